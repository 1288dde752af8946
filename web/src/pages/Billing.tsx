// Billing: the plan, its limits, this period's usage as a bar, the membership, and a
// Subscribe/upgrade button per plan that opens Whop's checkout.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import type { CheckoutSession, PlanCatalog } from "../api/types";
import { CreditPacks } from "../components/CreditPacks";
import { ErrorMessage, Loading, PageTitle, ProgressBar, Section, When } from "../components/ui";
import { useCurrentUser } from "../hooks/useCurrentUser";

export function BillingPage() {
  const [params] = useSearchParams();
  const me = useCurrentUser();
  const plans = useQuery({ queryKey: ["plans"], queryFn: () => api<PlanCatalog>("/v1/plans") });
  const checkout = useMutation({
    mutationFn: (plan: string) => api<CheckoutSession>("/v1/billing/checkout", { method: "POST", body: { plan } }),
    onSuccess: ({ url }) => window.location.assign(url),
  });

  if (me.isLoading) return <><PageTitle>Billing</PageTitle><Loading what="your plan" /></>;
  if (!me.data) return <><PageTitle>Billing</PageTitle><ErrorMessage error={me.error} /></>;
  const { plan, usage, membership } = me.data;
  const current = plans.data?.items.find((p) => p.name === plan.name);
  return (
    <>
      <PageTitle>Billing</PageTitle>
      {params.get("checkout") === "done"
        ? <p className="notice" role="status">Thanks! Your plan changes as soon as Whop confirms the payment.</p> : null}
      <Section title="Your plan">
        <p className="plan-name" data-plan={plan.name}>{plan.name}</p>
        <dl className="facts">
          <div><dt>Videos per period</dt><dd>{plan.monthly_jobs}</dd></div>
          <div><dt>Longest video</dt><dd>{plan.max_duration_s} s</dd></div>
          <div><dt>At once</dt><dd>{plan.max_concurrency}</dd></div>
          <div><dt>Kept for</dt><dd>{plan.retention_days} days</dd></div>
        </dl>
        <h3>This period</h3>
        <p>{usage.jobs_used} of {plan.monthly_jobs} videos used; {usage.running} running. Resets <When at={usage.period_end} />.</p>
        <ProgressBar value={plan.monthly_jobs ? (usage.jobs_used / plan.monthly_jobs) * 100 : 100} label="Videos used this period" id="usage-bar" />
      </Section>
      <Section title="Membership">
        {membership ? (
          <p>
            Whop membership <code>{membership.whop_membership_id}</code>: <strong>{membership.status}</strong>
            {membership.cancel_at_period_end ? <> (ends <When at={membership.renewal_period_end} />)</> : null}
          </p>
        ) : <p>No membership: you are on the free plan.</p>}
      </Section>
      <Section title="Plans">
        {me.data.email_verified === false
          ? <p className="notice">Verify your email address first: until then your account stays on the free plan.</p> : null}
        {plans.isLoading ? <Loading what="plans" /> : null}
        <ErrorMessage error={plans.error ?? checkout.error} />
        <ul className="plans">
          {plans.data?.items.map((p) => {
            const isCurrent = p.name === plan.name;
            const higher = current ? p.monthly_jobs > current.monthly_jobs : true;
            return (
              <li key={p.name} className={`card plan${isCurrent ? " current" : ""}`}>
                <h3>{p.name}</h3>
                <p className="small">{p.monthly_jobs} videos, up to {p.max_duration_s} s, {p.max_concurrency} at once, kept {p.retention_days} days</p>
                {isCurrent ? <p className="muted">Your plan</p> : p.purchasable ? (
                  <button type="button" className="primary" disabled={checkout.isPending || me.data.email_verified === false}
                    onClick={() => checkout.mutate(p.name)}>{higher ? `Upgrade to ${p.name}` : `Subscribe to ${p.name}`}</button>
                ) : <p className="muted small">Not sold online</p>}
              </li>
            );
          })}
        </ul>
      </Section>
      <CreditPacks verified={me.data.email_verified !== false} />
    </>
  );
}
