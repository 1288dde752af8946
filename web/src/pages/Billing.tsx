// Billing: the plan, its limits, this period's usage as a bar, the credits for platform AI and
// what spent them, the membership, and per plan its AI and credits with a Subscribe/upgrade
// button that opens Whop's checkout.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import type { CheckoutSession, Credits, IncludedAI, Me, PlanCatalog } from "../api/types";
import { CreditPacks } from "../components/CreditPacks";
import { ErrorMessage, Loading, PageTitle, ProgressBar, Section, When } from "../components/ui";
import { useCurrentUser } from "../hooks/useCurrentUser";
import { PURPOSE_TEXT, dollars, modelText } from "../money";

const AI_PURPOSES = ["concept", "image", "narration"] as const;

/** Per purpose, what a plan includes on the platform's account, else what it leaves to you. */
export function PlanAI({ ai, label }: { ai: Record<string, IncludedAI> | undefined; label: string }) {
  return (
    <ul className="plan-ai small" aria-label={label}>
      {AI_PURPOSES.map((purpose) => (
        <li key={purpose} data-purpose={purpose}>
          {PURPOSE_TEXT[purpose]}: {ai?.[purpose] ? modelText(ai[purpose]) : <span className="muted">offline, or your own key</span>}
        </li>
      ))}
    </ul>
  );
}

function CreditsSection({ credits, providers }: { credits: Credits; providers: Me["usage"]["providers"] }) {
  const spent = (providers ?? []).filter((p) => p.cost_micros);
  return (
    <Section title="Credits">
      <p className="muted small">Credits pay for the AI your plan includes, at the providers' prices. Calls on your own keys cost no credits.</p>
      <dl className="facts">
        <div><dt>Available now</dt><dd data-testid="credits-available">{dollars(credits.available_micros)}</dd></div>
        <div><dt>Allowance left</dt><dd data-testid="credits-allowance">{dollars(credits.allowance_micros)} of {dollars(credits.monthly_micros)}</dd></div>
        <div><dt>Credit packs</dt><dd data-testid="credits-packs">{dollars(credits.topup_micros)}</dd></div>
        <div><dt>Held by videos in progress</dt><dd data-testid="credits-reserved">{dollars(credits.reserved_micros)}</dd></div>
      </dl>
      <ProgressBar value={credits.monthly_micros ? (credits.allowance_micros / credits.monthly_micros) * 100 : 0}
        label="Allowance left this period" id="credits-bar" />
      {spent.length ? (
        <div className="table-wrap">
          <table>
            <caption>Spent this period</caption>
            <thead><tr><th scope="col">For</th><th scope="col">Provider</th><th scope="col">Calls</th><th scope="col">Cost</th><th scope="col">From credits</th></tr></thead>
            <tbody>
              {spent.map((p) => (
                <tr key={`${p.purpose}-${p.provider}`}>
                  <th scope="row">{PURPOSE_TEXT[p.purpose] ?? p.purpose}</th><td>{p.provider}</td><td>{p.calls}</td>
                  <td>{dollars(p.cost_micros ?? 0)}</td><td>{dollars(p.platform_micros ?? 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Section>
  );
}

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
        <h3>AI included</h3>
        <PlanAI ai={plan.ai} label={`AI in your ${plan.name} plan`} />
      </Section>
      {me.data.credits ? <CreditsSection credits={me.data.credits} providers={usage.providers} /> : null}
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
                <p className="small" data-testid={`plan-credits-${p.name}`}>{dollars(p.monthly_credits_micros)} of AI credits a month</p>
                <PlanAI ai={p.ai} label={`AI in the ${p.name} plan`} />
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
