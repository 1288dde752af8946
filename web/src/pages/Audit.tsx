// The account's audit log, newest first, by cursor.
import { useInfiniteQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { AuditLog } from "../api/types";
import { ErrorMessage, Loading, PageTitle, When } from "../components/ui";

export function AuditPage() {
  const log = useInfiniteQuery({
    queryKey: ["audit"],
    queryFn: ({ pageParam }) => api<AuditLog>(`/v1/audit-log?limit=50${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ""}`),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const entries = log.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageTitle>Audit log</PageTitle>
      {log.isLoading ? <Loading what="the log" /> : null}
      <ErrorMessage error={log.error} />
      {log.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">What happened on your account</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">From</th><th scope="col">Details</th></tr></thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id}>
                  <td><When at={e.at} /></td><th scope="row">{e.action}</th><td><code>{e.target ?? "—"}</code></td>
                  <td>{e.ip ?? "—"}</td><td className="small">{e.details ? JSON.stringify(e.details) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {log.hasNextPage ? <button type="button" onClick={() => void log.fetchNextPage()} disabled={log.isFetchingNextPage}>Older entries</button> : null}
    </>
  );
}
