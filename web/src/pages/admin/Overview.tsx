// The operator's overview: today's jobs and the queue at a glance, jobs per day, the wait and
// what failed (GET /v1/admin/overview, refreshed every 15 s).
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { AdminOverview } from "../../api/types";
import { BarChart } from "../../components/BarChart";
import { ErrorMessage, Loading, PageTitle, Section } from "../../components/ui";

export const STATUS_COLORS: { key: string; color: string }[] = [
  { key: "succeeded", color: "#15803d" }, { key: "failed", color: "#b91c1c" }, { key: "canceled", color: "#a16207" },
  { key: "running", color: "#1d4ed8" }, { key: "queued", color: "#6b7280" }, { key: "expired", color: "#a78bfa" },
];

const secs = (s: number | null | undefined) => (s == null ? "—" : `${s.toFixed(1)} s`);

export function AdminOverviewPage() {
  const overview = useQuery({
    queryKey: ["admin", "overview"],
    queryFn: ({ signal }) => api<AdminOverview>("/v1/admin/overview?days=14", { signal }),
    refetchInterval: 15_000,
  });
  const o = overview.data;
  const today = o?.per_day[o.per_day.length - 1];
  const rows = o?.per_day.map((d) => ({ day: d.day, ...d.by_status })) ?? [];
  return (
    <>
      <PageTitle>Operator overview</PageTitle>
      {overview.isLoading ? <Loading what="the overview" /> : null}
      <ErrorMessage error={overview.error} />
      {o && today ? (
        <>
          <Section title="Now">
            <dl className="stats">
              <div><dt>Jobs today</dt><dd data-stat="today">{today.total}</dd></div>
              <div><dt>Queued</dt><dd data-stat="queued">{o.by_status.queued ?? 0}</dd></div>
              <div><dt>Running</dt><dd data-stat="running">{o.by_status.running ?? 0}</dd></div>
              <div><dt>Queue depth</dt><dd data-stat="depth">{o.queue.depth}</dd></div>
              <div><dt>Workers</dt><dd data-stat="workers">{o.queue.workers}</dd></div>
              <div><dt>Wait p50 (1 h)</dt><dd>{secs(o.wait.p50_s)}</dd></div>
              <div><dt>Wait p95 (1 h)</dt><dd>{secs(o.wait.p95_s)}</dd></div>
            </dl>
          </Section>
          <Section title="Jobs per day">
            <BarChart title="Jobs per day by status" rows={rows} x="day" series={STATUS_COLORS} />
            <details>
              <summary>As a table</summary>
              <div className="table-wrap">
                <table>
                  <caption className="sr-only">Jobs per day by status</caption>
                  <thead><tr><th scope="col">Day</th>{STATUS_COLORS.map((s) => <th scope="col" key={s.key}>{s.key}</th>)}<th scope="col">Total</th></tr></thead>
                  <tbody>
                    {o.per_day.map((d) => (
                      <tr key={d.day}><th scope="row">{d.day}</th>
                        {STATUS_COLORS.map((s) => <td key={s.key}>{d.by_status[s.key] ?? 0}</td>)}<td>{d.total}</td></tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          </Section>
          <Section title="Failures by code and step (14 days)">
            {o.failures.length === 0 ? <p className="muted">No failed jobs.</p> : (
              <div className="table-wrap">
                <table>
                  <caption className="sr-only">Failed jobs by error code and step</caption>
                  <thead><tr><th scope="col">Code</th><th scope="col">Step</th><th scope="col">Jobs</th></tr></thead>
                  <tbody>
                    {o.failures.map((f) => (
                      <tr key={`${f.code}-${f.step}`}><th scope="row"><code>{f.code ?? "—"}</code></th><td>{f.step ?? "—"}</td><td>{f.count}</td></tr>
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
