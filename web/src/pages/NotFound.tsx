import { Link } from "react-router-dom";
import { PageTitle } from "../components/ui";

export function NotFoundPage() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <p>There is nothing here. <Link to="/jobs">Go to your videos</Link>.</p>
    </>
  );
}
