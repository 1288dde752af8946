// API keys: create (the key is shown once, with a copy button), list, revoke.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "../api/client";
import type { ApiKey, ApiKeyCreated, Page } from "../api/types";
import { CopyButton, ErrorMessage, FieldError, Loading, PageTitle, When } from "../components/ui";

export function ApiKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: ["api-keys"],
    queryFn: ({ signal }) => api<Page<ApiKey>>("/v1/api-keys?limit=100", { signal }),
  });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const create = useMutation({
    mutationFn: () => api<ApiKeyCreated>("/v1/api-keys", { method: "POST", body: { name } }),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      // Listed at once (a list fetched before the key existed must not hide it), then refreshed.
      const listed: ApiKey = { id: key.id, name: key.name, prefix: key.prefix, created_at: key.created_at, last_used_at: null };
      queryClient.setQueryData<Page<ApiKey>>(["api-keys"], (page) =>
        page ? { ...page, items: [listed, ...page.items.filter((k) => k.id !== key.id)] } : page);
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api<void>(`/v1/api-keys/${id}`, { method: "DELETE" }),
    onSuccess: (_, id) => {
      if (created?.id === id) setCreated(null);
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(); };

  return (
    <>
      <PageTitle>API keys</PageTitle>
      <p>Keys let scripts and the <code>mo</code> command line act as you. Send one as <code>Authorization: Bearer ak_…</code>.</p>
      <form className="card inline-form" onSubmit={submit} aria-label="Create an API key">
        <label htmlFor="key-name">Name</label>
        <input id="key-name" value={name} maxLength={100} required onChange={(e) => setName(e.target.value)}
          aria-invalid={!!fields.name} aria-describedby={fields.name ? "name-error" : undefined} placeholder="laptop" />
        <button type="submit" className="primary" disabled={create.isPending}>Create key</button>
        <FieldError id="name-error" message={fields.name} />
        {fields.name ? null : <ErrorMessage error={create.error} />}
      </form>
      {created ? (
        <div className="card notice" role="status" aria-label="New key">
          <p><strong>Copy your new key now.</strong> It is shown only this once.</p>
          <p className="secret"><code data-testid="new-key">{created.key}</code> <CopyButton text={created.key} label="Copy key" /></p>
          <button type="button" className="link" onClick={() => setCreated(null)}>I stored it</button>
        </div>
      ) : null}
      {keys.isLoading ? <Loading what="keys" /> : null}
      <ErrorMessage error={keys.error ?? revoke.error} />
      {keys.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Your API keys</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {keys.data.items.length === 0 ? <tr><td colSpan={5}>No keys yet.</td></tr> : null}
              {keys.data.items.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <th scope="row">{k.name}</th><td><code>{k.prefix}…</code></td><td><When at={k.created_at} /></td>
                  <td><When at={k.last_used_at} /></td>
                  <td><button type="button" className="danger" onClick={() => revoke.mutate(k.id)} disabled={revoke.isPending}
                    aria-label={`Revoke ${k.name}`}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
