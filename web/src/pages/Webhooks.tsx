// Webhook endpoints: register (the signing secret is shown once), list, delete.
import { useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { api, ApiError } from "../api/client";
import type { WebhookEndpoint, WebhookEndpointCreated } from "../api/types";
import { ResourceTable } from "../components/ResourceTable";
import { SecretOnce } from "../components/SecretOnce";
import { ErrorMessage, FieldError, PageTitle, When } from "../components/ui";
import { useResourceList } from "../hooks/useResourceList";

export function WebhooksPage() {
  const endpoints = useResourceList<WebhookEndpoint>("webhooks", "/v1/webhook-endpoints");
  const [url, setUrl] = useState("");
  const [created, setCreated] = useState<WebhookEndpointCreated | null>(null);
  const create = useMutation({
    mutationFn: () => api<WebhookEndpointCreated>("/v1/webhook-endpoints", { method: "POST", body: { url } }),
    onSuccess: (e) => {
      setCreated(e);
      setUrl("");
      endpoints.added({ id: e.id, url: e.url, events: e.events, created_at: e.created_at, last_delivery_at: null,
        last_status: null });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api<void>(`/v1/webhook-endpoints/${id}`, { method: "DELETE" }),
    onSuccess: (_, id) => {
      if (created?.id === id) setCreated(null);
      endpoints.refresh();
    },
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
        <SecretOnce label="New endpoint's secret" what="the signing secret" secret={created.secret} copyLabel="Copy secret"
          testId="new-secret" onDismiss={() => setCreated(null)} />
      ) : null}
      <ResourceTable caption="Your webhook endpoints" what="endpoints" list={endpoints.list} empty="No endpoints yet."
        rowKey={(e) => e.id}
        columns={[
          { header: "URL", cell: (e) => e.url, className: "wrap" },
          { header: "Events", cell: (e) => e.events.join(", "), className: "small" },
          { header: "Last delivery",
            cell: (e) => <><When at={e.last_delivery_at} />{e.last_status != null ? ` (HTTP ${e.last_status})` : ""}</> },
        ]}
        remove={{ label: "Delete", name: (e) => `Delete ${e.url}`, run: (e) => remove.mutate(e.id),
          pending: remove.isPending, error: remove.error }} />
    </>
  );
}
