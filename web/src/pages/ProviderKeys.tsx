// Provider keys (bring your own): store or replace, delete; only the last four characters show.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "../api/client";
import type { ProviderKey, StepProviders } from "../api/types";
import { ErrorMessage, FieldError, Loading, PageTitle, When } from "../components/ui";

export function ProviderKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["provider-keys"], queryFn: () => api<{ items: ProviderKey[] }>("/v1/provider-keys") });
  const catalog = useQuery({ queryKey: ["providers"], queryFn: () => api<{ items: StepProviders[] }>("/v1/providers") });
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
      {keys.isLoading ? <Loading what="keys" /> : null}
      <ErrorMessage error={keys.error ?? remove.error} />
      {keys.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Your stored provider keys</caption>
            <thead><tr><th scope="col">Provider</th><th scope="col">Key</th><th scope="col">Base URL</th><th scope="col">Updated</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {keys.data.items.length === 0 ? <tr><td colSpan={5}>No provider keys stored.</td></tr> : null}
              {keys.data.items.map((k) => (
                <tr key={k.provider} data-provider={k.provider}>
                  <th scope="row">{k.provider}</th><td><code className="last4">…{k.last4}</code></td>
                  <td>{k.base_url ?? "default"}</td><td><When at={k.updated_at} /></td>
                  <td>
                    <button type="button" onClick={() => setProvider(k.provider)} aria-label={`Replace the ${k.provider} key`}>Replace</button>{" "}
                    <button type="button" className="danger" onClick={() => remove.mutate(k.provider)} aria-label={`Delete the ${k.provider} key`}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
