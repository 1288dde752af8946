// Webhook endpoints: register (the signing secret is shown once), list, delete.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "../api/client";
import type { Page, WebhookEndpoint, WebhookEndpointCreated } from "../api/types";
import { CopyButton, ErrorMessage, FieldError, Loading, PageTitle, When } from "../components/ui";

export function WebhooksPage() {
  const queryClient = useQueryClient();
  const endpoints = useQuery({
    queryKey: ["webhooks"],
    queryFn: ({ signal }) => api<Page<WebhookEndpoint>>("/v1/webhook-endpoints?limit=100", { signal }),
  });
  const [url, setUrl] = useState("");
  const [created, setCreated] = useState<WebhookEndpointCreated | null>(null);
  const create = useMutation({
    mutationFn: () => api<WebhookEndpointCreated>("/v1/webhook-endpoints", { method: "POST", body: { url } }),
    onSuccess: (e) => { setCreated(e); setUrl(""); void queryClient.invalidateQueries({ queryKey: ["webhooks"] }); },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api<void>(`/v1/webhook-endpoints/${id}`, { method: "DELETE" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["webhooks"] }),
  });
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(); };

  return (
    <>
      <PageTitle>Webhooks</PageTitle>
      <p>We POST your jobs' events to these URLs, signed per the Standard Webhooks spec.</p>
      <form className="card inline-form" onSubmit={submit} aria-label="Add a webhook endpoint">
        <label htmlFor="wh-url">Endpoint URL</label>
        <input id="wh-url" type="url" value={url} required onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/hooks/media"
          aria-invalid={!!fields.url} aria-describedby={fields.url ? "wh-url-error" : undefined} />
        <button type="submit" className="primary" disabled={create.isPending}>Add endpoint</button>
        <FieldError id="wh-url-error" message={fields.url} />
        {fields.url ? null : <ErrorMessage error={create.error} />}
      </form>
      {created ? (
        <div className="card notice" role="status" aria-label="New endpoint's secret">
          <p><strong>Copy the signing secret now.</strong> It is shown only this once.</p>
          <p className="secret"><code data-testid="new-secret">{created.secret}</code> <CopyButton text={created.secret} label="Copy secret" /></p>
          <button type="button" className="link" onClick={() => setCreated(null)}>I stored it</button>
        </div>
      ) : null}
      {endpoints.isLoading ? <Loading what="endpoints" /> : null}
      <ErrorMessage error={endpoints.error ?? remove.error} />
      {endpoints.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Your webhook endpoints</caption>
            <thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">Last delivery</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {endpoints.data.items.length === 0 ? <tr><td colSpan={4}>No endpoints yet.</td></tr> : null}
              {endpoints.data.items.map((e) => (
                <tr key={e.id}>
                  <th scope="row" className="wrap">{e.url}</th><td className="small">{e.events.join(", ")}</td>
                  <td><When at={e.last_delivery_at} />{e.last_status != null ? ` (HTTP ${e.last_status})` : ""}</td>
                  <td><button type="button" className="danger" onClick={() => remove.mutate(e.id)} aria-label={`Delete ${e.url}`}>Delete</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
