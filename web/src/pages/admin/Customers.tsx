// Customers: search by the start of an email, then one customer's plan, usage and recent jobs,
// with suspend and reinstate.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import type { AdminCustomerDetail, AdminCustomerList } from "../../api/types";
import { dollars } from "../../money";
import { ErrorMessage, Loading, PageTitle, Section, StatusBadge, When } from "../../components/ui";

export function AdminCustomersPage() {
  const [params, setParams] = useSearchParams();
  const email = params.get("email") ?? "";
  const [draft, setDraft] = useState(email);
  const list = useQuery({
    queryKey: ["admin", "customers", email],
    queryFn: ({ signal }) => api<AdminCustomerList>(`/v1/admin/customers?limit=50&email=${encodeURIComponent(email)}`, { signal }),
  });
  const search = (e: FormEvent) => { e.preventDefault(); setParams(draft ? { email: draft } : {}); };
  return (
    <>
      <PageTitle>Customers</PageTitle>
      <form className="inline-form card" onSubmit={search} role="search">
        <label htmlFor="customer-email">Email starts with</label>
        <input id="customer-email" type="search" value={draft} onChange={(e) => setDraft(e.target.value)} />
        <button type="submit" className="primary">Search</button>
      </form>
      {list.isLoading ? <Loading what="customers" /> : null}
      <ErrorMessage error={list.error} />
      {list.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Customers, newest first</caption>
            <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Signed up</th><th scope="col">State</th></tr></thead>
            <tbody>
              {list.data.items.length === 0 ? <tr><td colSpan={4}>No customer matches.</td></tr> : null}
              {list.data.items.map((c) => (
                <tr key={c.id} data-customer-id={c.id}>
                  <th scope="row"><Link to={`/admin/customers/${c.id}`}>{c.email}</Link></th>
                  <td>{c.role}</td><td><When at={c.created_at} /></td>
                  <td>{c.suspended_at ? <StatusBadge status="suspended" /> : "active"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

export function AdminCustomerPage() {
  const { id = "" } = useParams();
  const client = useQueryClient();
  const key = ["admin", "customer", id];
  const detail = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => api<AdminCustomerDetail>(`/v1/admin/customers/${encodeURIComponent(id)}?limit=50`, { signal }),
  });
  const act = useMutation({
    mutationFn: (action: "suspend" | "reinstate") => api(`/v1/admin/customers/${encodeURIComponent(id)}/${action}`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: key }),
  });
  const d = detail.data;
  return (
    <>
      <PageTitle>{d ? d.customer.email : "Customer"}</PageTitle>
      {detail.isLoading ? <Loading what="the customer" /> : null}
      <ErrorMessage error={detail.error ?? act.error} />
      {d ? (
        <>
          <Section title="Account">
            <dl className="facts">
              <div><dt>Id</dt><dd><code>{d.customer.id}</code></dd></div>
              <div><dt>Plan</dt><dd>{d.plan.name}</dd></div>
              <div><dt>Membership</dt><dd>{d.membership ? `${d.membership.status} (${d.membership.plan})` : "none"}</dd></div>
              <div><dt>Jobs this period</dt><dd>{d.usage.jobs_used} of {d.plan.monthly_jobs}</dd></div>
              <div><dt>Running</dt><dd>{d.usage.running}</dd></div>
              <div><dt>Credits available</dt><dd data-stat="credits">{dollars(d.credits.available_micros)}</dd></div>
              <div><dt>Credits left</dt><dd>{dollars(d.credits.allowance_micros)} of {dollars(d.credits.monthly_micros)} this period, {dollars(d.credits.topup_micros)} in packs, {dollars(d.credits.reserved_micros)} held</dd></div>
              <div><dt>Email verified</dt><dd>{d.customer.email_verified ? "yes" : "no"}</dd></div>
              <div><dt>State</dt><dd>{d.customer.suspended_at ? <>suspended <When at={d.customer.suspended_at} /></> : "active"}</dd></div>
            </dl>
            <div className="actions">
              {d.customer.suspended_at ? (
                <button type="button" onClick={() => act.mutate("reinstate")} disabled={act.isPending}>Reinstate</button>
              ) : (
                <button type="button" className="danger" disabled={act.isPending || d.customer.role === "operator"}
                  onClick={() => { if (window.confirm(`Suspend ${d.customer.email}? Their queued jobs are canceled.`)) act.mutate("suspend"); }}>
                  Suspend
                </button>
              )}
            </div>
          </Section>
          <Section title="Recent jobs">
            <div className="table-wrap">
              <table>
                <caption className="sr-only">The customer's newest jobs</caption>
                <thead><tr><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Error</th><th scope="col">Attempt</th><th scope="col">Created</th></tr></thead>
                <tbody>
                  {d.recent_jobs.length === 0 ? <tr><td colSpan={5}>No jobs yet.</td></tr> : null}
                  {d.recent_jobs.map((j) => (
                    <tr key={j.id} data-job-id={j.id}>
                      <th scope="row"><Link to={`/admin/jobs/${j.id}`}><code>{j.id}</code></Link></th>
                      <td><StatusBadge status={j.status} /></td>
                      <td>{j.error_code ? <code>{j.error_code}{j.error_step ? ` @ ${j.error_step}` : ""}</code> : "—"}</td>
                      <td>{j.attempt}</td><td><When at={j.created_at} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
        </>
      ) : null}
    </>
  );
}
