// Provider keys (bring your own): store or replace, delete; only the last four characters show.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "../api/client";
import type { ProviderCatalog, ProviderKey, ProviderKeyList } from "../api/types";
import { ResourceTable } from "../components/ResourceTable";
import { ErrorMessage, FieldError, PageTitle, When } from "../components/ui";

export function ProviderKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["provider-keys"], queryFn: ({ signal }) => api<ProviderKeyList>("/v1/provider-keys", { signal }) });
  const catalog = useQuery({ queryKey: ["providers"], queryFn: ({ signal }) => api<ProviderCatalog>("/v1/providers", { signal }) });
  const keyed = [...new Set((catalog.data?.items ?? []).flatMap((s) => s.providers.filter((p) => p.needs_key).map((p) => p.name)))];
  const [provider, setProvider] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const chosen = provider || keyed[0] || "";
  const changed = () => {
    void queryClient.invalidateQueries({ queryKey: ["provider-keys"] });
    void queryClient.invalidateQueries({ queryKey: ["providers"] });
  };
  const store = useMutation({
    mutationFn: () => api<ProviderKey>(`/v1/provider-keys/${encodeURIComponent(chosen)}`, {
      method: "PUT", body: { api_key: apiKey, ...(baseUrl.trim() ? { base_url: baseUrl.trim() } : {}) },
    }),
    onSuccess: () => { setApiKey(""); setBaseUrl(""); changed(); },
  });
  const remove = useMutation({
    mutationFn: (name: string) => api<void>(`/v1/provider-keys/${encodeURIComponent(name)}`, { method: "DELETE" }),
    onSuccess: changed,
  });
  const fields = store.error instanceof ApiError ? store.error.fieldErrors() : {};
  const submit = (e: FormEvent) => { e.preventDefault(); store.mutate(); };

  return (
    <>
      <PageTitle>Provider keys</PageTitle>
      <p>Use your own account at an AI provider for any step. Keys are stored encrypted; only their last four characters are ever shown.</p>
      <form className="card" onSubmit={submit} aria-label="Store a provider key">
        <div className="row">
          <div>
            <label htmlFor="pk-provider">Provider</label>
            <select id="pk-provider" value={chosen} onChange={(e) => setProvider(e.target.value)}>
              {keyed.map((p) => <option key={p} value={p}>{p}</option>)}
            </select>
          </div>
          <div>
            <label htmlFor="pk-key">API key</label>
            <input id="pk-key" type="password" autoComplete="off" value={apiKey} required onChange={(e) => setApiKey(e.target.value)}
              aria-invalid={!!fields.api_key} aria-describedby={fields.api_key ? "pk-key-error" : undefined} />
            <FieldError id="pk-key-error" message={fields.api_key} />
          </div>
          <div>
            <label htmlFor="pk-base">Base URL <span className="muted">(optional, OpenAI-compatible)</span></label>
            <input id="pk-base" type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder="https://api.openai.com/v1"
              aria-invalid={!!fields.base_url} aria-describedby={fields.base_url ? "pk-base-error" : undefined} />
            <FieldError id="pk-base-error" message={fields.base_url} />
          </div>
        </div>
        {Object.keys(fields).length ? null : <ErrorMessage error={store.error} />}
        <button type="submit" className="primary" disabled={store.isPending || !chosen}>Store key</button>
      </form>
      <ResourceTable caption="Your stored provider keys" what="keys" list={keys} empty="No provider keys stored."
        rowKey={(k: ProviderKey) => k.provider} rowData={(k) => ({ "data-provider": k.provider })}
        columns={[
          { header: "Provider", cell: (k) => k.provider },
          { header: "Key", cell: (k) => <code className="last4">…{k.last4}</code> },
          { header: "Base URL", cell: (k) => k.base_url ?? "default" },
          { header: "Updated", cell: (k) => <When at={k.updated_at} /> },
        ]}
        actions={(k) => (
          <button type="button" onClick={() => setProvider(k.provider)} aria-label={`Replace the ${k.provider} key`}>Replace</button>
        )}
        remove={{ label: "Delete", name: (k) => `Delete the ${k.provider} key`, run: (k) => remove.mutate(k.provider),
          pending: remove.isPending, error: remove.error }} />
    </>
  );
}
