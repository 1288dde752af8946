// What the platform spent: provider cost per day, by provider and by the plan the jobs ran on
// (priced provider usage, integer micro-dollars), credits sold and charged, and the customers
// who cost the platform's accounts most.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import type { AdminSpend } from "../../api/types";
import { BarChart } from "../../components/BarChart";
import { ErrorMessage, Loading, PageTitle, Section } from "../../components/ui";
import { dollars as usd, MICROS_PER_DOLLAR } from "../../money";

const PALETTE = ["#1d4ed8", "#15803d", "#b91c1c", "#a16207", "#7c3aed", "#0e7490", "#be185d", "#4b5563"];

type Dimension = "provider" | "plan";

export function AdminSpendPage() {
  const [by, setBy] = useState<Dimension>("provider");
  const spend = useQuery({
    queryKey: ["admin", "spend"],
    queryFn: ({ signal }) => api<AdminSpend>("/v1/admin/spend?days=30", { signal }),
  });
  const s = spend.data;
  const keys = [...new Set(s?.per_day.map((d) => d[by]) ?? [])].sort();
  // Dollars per day and provider (or plan): what the charts stack. All accounts, the platform's first.
  const byDay = new Map<string, Record<string, number | string>>();
  for (const d of s?.per_day ?? []) {
    const row = byDay.get(d.day) ?? { day: d.day };
    row[d[by]] = Number(row[d[by]] ?? 0) + d.platform_micros / MICROS_PER_DOLLAR;
    byDay.set(d.day, row);
  }
  const total = (field: "cost_micros" | "platform_micros") => (s?.per_day ?? []).reduce((n, d) => n + d[field], 0);
  return (
    <>
      <PageTitle>Spend</PageTitle>
      {spend.isLoading ? <Loading what="spend" /> : null}
      <ErrorMessage error={spend.error} />
      {s ? (
        <>
          <Section title="30 days">
            <dl className="stats">
              <div><dt>Platform spend</dt><dd data-stat="platform">{usd(total("platform_micros"))}</dd></div>
              <div><dt>All accounts</dt><dd data-stat="cost">{usd(total("cost_micros"))}</dd></div>
              <div><dt>Credits sold</dt><dd data-stat="sold">{usd(s.credits_sold_micros)}</dd></div>
              <div><dt>Credits charged</dt><dd data-stat="charged">{usd(s.credits_charged_micros)}</dd></div>
            </dl>
          </Section>
          <Section title="Platform spend per day">
            <fieldset className="inline-form">
              <legend>Stack by</legend>
              {(["provider", "plan"] as Dimension[]).map((d) => (
                <label key={d}><input type="radio" name="spend-by" value={d} checked={by === d} onChange={() => setBy(d)} /> {d}</label>
              ))}
            </fieldset>
            {keys.length === 0 ? <p className="muted">No provider usage yet.</p> : (
              <BarChart title={`Platform spend in dollars per day by ${by}`} rows={[...byDay.values()]} x="day"
                series={keys.map((k, i) => ({ key: k, color: PALETTE[i % PALETTE.length] }))} />
            )}
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Provider usage and cost per day, provider, purpose and plan</caption>
                <thead><tr><th scope="col">Day</th><th scope="col">Provider</th><th scope="col">Purpose</th><th scope="col">Plan</th>
                  <th scope="col">Calls</th><th scope="col">Tokens in/out</th><th scope="col">Images</th><th scope="col">Audio s</th>
                  <th scope="col">Platform</th><th scope="col">All accounts</th></tr></thead>
                <tbody>
                  {s.per_day.map((d) => (
                    <tr key={`${d.day}-${d.provider}-${d.purpose}-${d.plan}`} data-provider={d.provider} data-plan={d.plan}>
                      <th scope="row">{d.day}</th><td>{d.provider}</td><td>{d.purpose}</td><td>{d.plan}</td><td>{d.calls}</td>
                      <td>{d.tokens_in}/{d.tokens_out}</td><td>{d.images}</td><td>{d.audio_s.toFixed(1)}</td>
                      <td>{usd(d.platform_micros)}</td><td>{usd(d.cost_micros)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Top customers by platform spend">
            {s.top_customers.length === 0 ? <p className="muted">No provider usage yet.</p> : (
              <div className="table-wrap">
                <table>
                  <caption className="sr-only">The customers who cost the platform's accounts most</caption>
                  <thead><tr><th scope="col">Customer</th><th scope="col">Platform</th><th scope="col">All accounts</th><th scope="col">Calls</th></tr></thead>
                  <tbody>
                    {s.top_customers.map((t) => (
                      <tr key={t.user_id} data-customer-id={t.user_id}><th scope="row"><Link to={`/admin/customers/${t.user_id}`}>{t.email ?? t.user_id}</Link></th>
                        <td>{usd(t.platform_micros)}</td><td>{usd(t.cost_micros)}</td><td>{t.calls}</td></tr>
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
