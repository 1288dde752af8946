// What the platform spent, per provider and day (provider usage: calls, tokens, images, seconds,
// until priced records land), and the customers who used the most.
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { AdminSpend } from "../../api/types";
import { BarChart } from "../../components/BarChart";
import { ErrorMessage, Loading, PageTitle, Section } from "../../components/ui";

const PALETTE = ["#1d4ed8", "#15803d", "#b91c1c", "#a16207", "#7c3aed", "#0e7490", "#be185d", "#4b5563"];

export function AdminSpendPage() {
  const spend = useQuery({
    queryKey: ["admin", "spend"],
    queryFn: ({ signal }) => api<AdminSpend>("/v1/admin/spend?days=30", { signal }),
  });
  const s = spend.data;
  const providers = [...new Set(s?.per_day.map((d) => d.provider) ?? [])].sort();
  const byDay = new Map<string, Record<string, number | string>>();
  for (const d of s?.per_day ?? []) {
    const row = byDay.get(d.day) ?? { day: d.day };
    row[d.provider] = Number(row[d.provider] ?? 0) + d.calls;
    byDay.set(d.day, row);
  }
  return (
    <>
      <PageTitle>Spend</PageTitle>
      {spend.isLoading ? <Loading what="spend" /> : null}
      <ErrorMessage error={spend.error} />
      {s ? (
        <>
          <Section title="Provider calls per day (30 days)">
            {providers.length === 0 ? <p className="muted">No provider usage yet.</p> : (
              <BarChart title="Provider calls per day" rows={[...byDay.values()]} x="day"
                series={providers.map((p, i) => ({ key: p, color: PALETTE[i % PALETTE.length] }))} />
            )}
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Provider usage per day, provider and purpose</caption>
                <thead><tr><th scope="col">Day</th><th scope="col">Provider</th><th scope="col">Purpose</th><th scope="col">Calls</th>
                  <th scope="col">Tokens in/out</th><th scope="col">Images</th><th scope="col">Audio s</th><th scope="col">Wall s</th></tr></thead>
                <tbody>
                  {s.per_day.map((d) => (
                    <tr key={`${d.day}-${d.provider}-${d.purpose}`} data-provider={d.provider}>
                      <th scope="row">{d.day}</th><td>{d.provider}</td><td>{d.purpose}</td><td>{d.calls}</td>
                      <td>{d.tokens_in}/{d.tokens_out}</td><td>{d.images}</td><td>{d.audio_s.toFixed(1)}</td><td>{d.wall_s.toFixed(1)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Top customers">
            <ol>
              {s.top_customers.map((t) => <li key={t.user_id}>{t.email ?? t.user_id}: {t.calls} calls, {t.wall_s.toFixed(1)} s</li>)}
            </ol>
          </Section>
        </>
      ) : null}
    </>
  );
}
