// The estimate beside the submit button: per step what runs and on whose account, what the
// video reserves from the credits, how long it takes, and plainly when the credits fall short.
import { Link } from "react-router-dom";
import { ApiError } from "../api/client";
import { useEstimate } from "../hooks/useEstimate";
import { ACCOUNT_TEXT, PURPOSE_TEXT, dollars, modelText, wallText } from "../money";

export function EstimatePanel({ body }: { body: Record<string, unknown> | null }) {
  const estimate = useEstimate(body);
  const data = body ? estimate.data : undefined;
  const problem = estimate.error instanceof ApiError && estimate.error.status === 422
    ? Object.values(estimate.error.fieldErrors())[0] ?? estimate.error.message : null;
  return (
    <section className="estimate" aria-label="Estimate" aria-busy={estimate.settling}
      data-fits={data ? String(data.fits) : undefined}>
      <h2>What it takes</h2>
      {!body ? <p className="muted">Describe the video to see what it costs and how long it takes.</p> : null}
      {body && problem ? <p className="muted">No estimate yet: {problem}</p> : null}
      {body && estimate.error && !problem ? <p className="muted">No estimate right now ({(estimate.error as Error).message}).</p> : null}
      {data && !problem ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">What each step runs on, on whose account, and at most what it costs</caption>
              <thead><tr><th scope="col">Step</th><th scope="col">Runs on</th><th scope="col">Account</th><th scope="col">Up to</th></tr></thead>
              <tbody>
                {data.steps.map((s) => (
                  <tr key={s.purpose} data-purpose={s.purpose} data-account={s.account}>
                    <th scope="row">{PURPOSE_TEXT[s.purpose] ?? s.purpose}</th>
                    <td>{modelText(s)}</td>
                    <td>{ACCOUNT_TEXT[s.account]}</td>
                    <td>{s.account === "none" ? "free" : dollars(s.cost_micros)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p role="status" data-testid="estimate-summary">
            Reserves <strong>{dollars(data.credits_micros)}</strong>
            {` of your ${dollars(data.credits_available_micros)} credits`}
            {data.cost_micros > data.credits_micros
              ? ` (up to ${dollars(data.cost_micros - data.credits_micros)} more on your own keys)` : ""}
            {`; ready in ${wallText(data.wall_s)}.`}
          </p>
          {!data.fits ? (
            <p className="error" role="alert">
              Your credits do not cover this video: it reserves {dollars(data.credits_micros)} and
              you have {dollars(data.credits_available_micros)} available. Make it shorter, use your own key
              or offline providers, or <Link to="/billing">add credits or upgrade</Link>.
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
