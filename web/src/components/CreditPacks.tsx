// Credit packs: one-time Whop purchases that add platform-AI credits (they never expire),
// bought through checkout. Whop sends the buyer back to /billing?checkout=pack.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import type { CheckoutSession, PackCatalog } from "../api/types";
import { dollars } from "../money";
import { ErrorMessage, Loading, Section } from "./ui";

export function CreditPacks({ verified }: { verified: boolean }) {
  const [params] = useSearchParams();
  const packs = useQuery({ queryKey: ["credit-packs"], queryFn: () => api<PackCatalog>("/v1/billing/packs") });
  const checkout = useMutation({
    mutationFn: (pack: string) => api<CheckoutSession>("/v1/billing/checkout", { method: "POST", body: { pack } }),
    onSuccess: ({ url }) => window.location.assign(url),
  });
  if (packs.data && packs.data.items.length === 0) return null; // none on sale here
  return (
    <Section title="Credit packs">
      {params.get("checkout") === "pack"
        ? <p className="notice" role="status">Thanks! Your credits arrive as soon as Whop confirms the payment.</p> : null}
      <p className="small">More credits for platform AI, bought once; they never expire and are spent after your plan's monthly credits.</p>
      {!verified ? <p className="notice">Verify your email address first to buy credits.</p> : null}
      {packs.isLoading ? <Loading what="credit packs" /> : null}
      <ErrorMessage error={packs.error ?? checkout.error} />
      <ul className="plans">
        {packs.data?.items.map((p) => (
          <li key={p.name} className="card plan" data-pack={p.name}>
            <h3>{p.name}</h3>
            <p>{dollars(p.credits_micros)} of credits</p>
            <button type="button" className="primary" disabled={checkout.isPending || !verified}
              onClick={() => checkout.mutate(p.name)}>Buy for {dollars(p.price_micros)}</button>
          </li>
        ))}
      </ul>
    </Section>
  );
}
