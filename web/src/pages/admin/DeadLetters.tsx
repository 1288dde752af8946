// The dead letter: failed jobs newest first, filtered by code, redriven one at a time or all
// the selected at once (the `ops redrive` semantics: from the failed step, not charged again).
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import type { AdminDeadLetterList, AdminRedriveReply } from "../../api/types";
import { ErrorMessage, Loading, PageTitle, When } from "../../components/ui";

export function AdminDeadLettersPage() {
  const [code, setCode] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const client = useQueryClient();
  const list = useInfiniteQuery({
    queryKey: ["admin", "dead-letters", code],
    queryFn: ({ pageParam, signal }) => api<AdminDeadLetterList>(
      `/v1/admin/dead-letters?limit=50${code ? `&code=${encodeURIComponent(code)}` : ""}${pageParam ? `&cursor=${pageParam}` : ""}`, { signal }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const redrive = useMutation({
    mutationFn: (ids: string[]) => api<AdminRedriveReply>("/v1/admin/dead-letters/redrive", { method: "POST", body: { job_ids: ids } }),
    onSuccess: () => { setSelected(new Set()); void client.invalidateQueries({ queryKey: ["admin", "dead-letters"] }); },
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const toggle = (id: string) => setSelected((s) => { const n = new Set(s); if (n.has(id)) n.delete(id); else n.add(id); return n; });
  return (
    <>
      <PageTitle>Dead letter</PageTitle>
      <div className="toolbar">
        <label htmlFor="dl-code">Error code</label>
        <input id="dl-code" value={code} onChange={(e) => setCode(e.target.value)} placeholder="any" />
        <button type="button" className="primary" disabled={selected.size === 0 || redrive.isPending}
          onClick={() => redrive.mutate([...selected].slice(0, 100))}>
          Redrive selected ({selected.size})
        </button>
      </div>
      {redrive.data ? (
        <p role="status">Redriven {redrive.data.redriven.length}{redrive.data.skipped.length ? `, skipped ${redrive.data.skipped.length} (no longer failed)` : ""}.</p>
      ) : null}
      {list.isLoading ? <Loading what="failed jobs" /> : null}
      <ErrorMessage error={list.error ?? redrive.error} />
      {list.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Failed jobs, newest first</caption>
            <thead><tr><th scope="col"><span className="sr-only">Select</span></th><th scope="col">Job</th><th scope="col">Customer</th>
              <th scope="col">Error</th><th scope="col">Attempt</th><th scope="col">Failed</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.length === 0 ? <tr><td colSpan={7}>No failed jobs.</td></tr> : null}
              {items.map((d) => (
                <tr key={d.id} data-job-id={d.id}>
                  <td><input type="checkbox" aria-label={`Select ${d.id}`} checked={selected.has(d.id)} onChange={() => toggle(d.id)} /></td>
                  <th scope="row"><Link to={`/admin/jobs/${d.id}`}><code>{d.id}</code></Link></th>
                  <td>{d.email ? <Link to={`/admin/customers/${d.user_id}`}>{d.email}</Link> : d.user_id}</td>
                  <td><code>{d.error_code ?? "—"}</code>{d.error_step ? ` @ ${d.error_step}` : ""}</td>
                  <td>{d.attempt}</td><td><When at={d.finished_at} /></td>
                  <td><button type="button" aria-label={`Redrive ${d.id}`} disabled={redrive.isPending} onClick={() => redrive.mutate([d.id])}>Redrive</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {list.hasNextPage ? <button type="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>Older</button> : null}
    </>
  );
}
