// Videos: newest first, filter by status, pages by cursor.
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { JOB_STATUSES, jobAspectClass, jobTitle, type JobList } from "../api/types";
import { ErrorMessage, Loading, PageTitle, ProgressBar, StatusBadge, When } from "../components/ui";

export const PAGE_SIZE = 10;

export function JobsPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const cursor = params.get("cursor") ?? "";
  const trail = (params.get("trail") ?? "").split(",").filter(Boolean); // cursors of earlier pages
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  const jobs = useQuery({
    queryKey: ["jobs", status, cursor],
    queryFn: () => api<JobList>(`/v1/jobs?${query}`),
    refetchInterval: (q) => (q.state.data?.items.some((j) => j.status === "queued" || j.status === "running") ? 3000 : false),
  });

  const go = (next: { status?: string; cursor?: string; trail?: string[] }) => {
    const p = new URLSearchParams();
    const s = next.status ?? status;
    if (s) p.set("status", s);
    if (next.cursor) p.set("cursor", next.cursor);
    if (next.trail?.length) p.set("trail", next.trail.join(","));
    setParams(p);
  };

  return (
    <>
      <PageTitle>Videos</PageTitle>
      <div className="toolbar">
        <label htmlFor="status-filter">Status</label>
        <select id="status-filter" value={status} onChange={(e) => go({ status: e.target.value })}>
          <option value="">All</option>
          {JOB_STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <Link to="/new" className="button primary">New video</Link>
      </div>
      {jobs.isLoading ? <Loading what="videos" /> : null}
      <ErrorMessage error={jobs.error} />
      {jobs.data && jobs.data.items.length === 0 ? (
        <p className="card">No videos{status ? ` with status ${status}` : ""} yet. <Link to="/new">Make one</Link>.</p>
      ) : null}
      <ul className="job-grid" aria-label="Videos">
        {jobs.data?.items.map((job) => (
          <li key={job.id} className="card job-card" data-status={job.status}>
            <Link to={`/jobs/${job.id}`} className="job-link">
              {job.outputs ? (
                <img src={job.outputs.thumbnail_url} alt="" className={`thumb aspect-${jobAspectClass(job)}`} loading="lazy" />
              ) : <div className="thumb placeholder" aria-hidden="true" />}
              <span className="job-prompt">{jobTitle(job)}</span>
            </Link>
            <StatusBadge status={job.status} />
            {job.status === "running" || job.status === "queued"
              ? <ProgressBar value={job.progress} label={`Progress of ${jobTitle(job)}`} /> : null}
            <span className="muted small"><When at={job.created_at} /></span>
          </li>
        ))}
      </ul>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={!cursor}
          onClick={() => go({ cursor: trail[trail.length - 1], trail: trail.slice(0, -1) })}>Previous page</button>
        <button type="button" disabled={!jobs.data?.next_cursor}
          onClick={() => go({ cursor: jobs.data?.next_cursor ?? "", trail: [...trail, cursor] })}>Next page</button>
      </nav>
    </>
  );
}
