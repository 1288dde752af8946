// Any job as its owner sees it, with the internal detail kept from users: the raw error, the
// lease, the queue's state, every step run. A failed job is redriven from here with one click.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../../api/client";
import type { AdminJobInspection, AdminRedriveReply } from "../../api/types";
import { ErrorMessage, Loading, PageTitle, Section, StatusBadge, When } from "../../components/ui";

export function AdminJobLookupPage() {
  const [id, setId] = useState("");
  const navigate = useNavigate();
  const go = (e: FormEvent) => { e.preventDefault(); if (id.trim()) navigate(`/admin/jobs/${encodeURIComponent(id.trim())}`); };
  return (
    <>
      <PageTitle>Job inspector</PageTitle>
      <form className="inline-form card" onSubmit={go}>
        <label htmlFor="job-id">Job id</label>
        <input id="job-id" value={id} onChange={(e) => setId(e.target.value)} placeholder="job_…" />
        <button type="submit" className="primary">Inspect</button>
      </form>
    </>
  );
}

export function AdminJobPage() {
  const { id = "" } = useParams();
  const client = useQueryClient();
  const key = ["admin", "job", id];
  const job = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => api<AdminJobInspection>(`/v1/admin/jobs/${encodeURIComponent(id)}`, { signal }),
  });
  const redrive = useMutation({
    mutationFn: () => api<AdminRedriveReply>("/v1/admin/dead-letters/redrive", { method: "POST", body: { job_ids: [id] } }),
    onSuccess: () => client.invalidateQueries({ queryKey: key }),
  });
  const j = job.data;
  return (
    <>
      <PageTitle>{`Job ${id}`}</PageTitle>
      {job.isLoading ? <Loading what="the job" /> : null}
      <ErrorMessage error={job.error ?? redrive.error} />
      {j ? (
        <>
          <Section title="Job">
            <dl className="facts">
              <div><dt>Status</dt><dd><StatusBadge status={j.job.status} /></dd></div>
              <div><dt>Owner</dt><dd><Link to={`/admin/customers/${j.owner.id}`}>{j.owner.email}</Link></dd></div>
              <div><dt>Attempt</dt><dd>{j.job.attempt}</dd></div>
              <div><dt>Created</dt><dd><When at={j.job.created_at} /></dd></div>
              <div><dt>Finished</dt><dd><When at={j.job.finished_at} /></dd></div>
              <div><dt>Queue</dt><dd>{j.internal.queue_state ?? "—"}</dd></div>
              <div><dt>Lease</dt><dd>{j.internal.lease_owner ?? "—"}</dd></div>
            </dl>
            {j.job.status === "failed" ? (
              <div className="actions">
                <button type="button" className="primary" onClick={() => redrive.mutate()} disabled={redrive.isPending}>Redrive</button>
              </div>
            ) : null}
            {redrive.data ? <p role="status">{redrive.data.redriven.length ? "Redriven: queued again from the failed step." : "Not redriven: the job is no longer failed."}</p> : null}
          </Section>
          <Section title="Error (internal)">
            {j.internal.error_code ? (
              <>
                <p><code>{j.internal.error_code}</code>{j.internal.error_step ? <> at step <strong>{j.internal.error_step}</strong></> : null}</p>
                <pre className="detail">{j.internal.error_message}</pre>
                {j.internal.error_detail ? (
                  <>
                    <p className="muted">Internal detail of the last failed run (never shown to the customer):</p>
                    <pre className="detail" data-detail="internal">{j.internal.error_detail}</pre>
                  </>
                ) : null}
              </>
            ) : <p className="muted">No error.</p>}
          </Section>
          <Section title="Steps">
            <div className="table-wrap">
              <table>
                <caption className="sr-only">The job's steps</caption>
                <thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Provider</th><th scope="col">Attempt</th></tr></thead>
                <tbody>
                  {j.job.steps.map((s) => (
                    <tr key={s.name}><th scope="row">{s.name}</th><td><StatusBadge status={s.status} /></td><td>{s.provider ?? "—"}</td><td>{s.attempt}</td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Step runs">
            {j.internal.runs.length === 0 ? <p className="muted">No step has run.</p> : (
              <div className="table-wrap">
                <table>
                  <caption className="sr-only">Every run of every step</caption>
                  <thead><tr><th scope="col">Step</th><th scope="col">Worker</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Error</th></tr></thead>
                  <tbody>
                    {j.internal.runs.map((r, i) => (
                      <tr key={i}><th scope="row">{r.step}</th><td><code>{r.owner}</code></td><td>{r.status}</td><td><When at={r.started_at} /></td>
                        <td className="small">{r.error_code ? `${r.error_code}: ${r.error_message ?? ""}` : "—"}
                          {r.error_detail ? <details><summary>Detail</summary><pre className="detail">{r.error_detail}</pre></details> : null}</td></tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
        </>
      ) : null}
    </>
  );
}
