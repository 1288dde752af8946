// API keys: create (the key is shown once, with a copy button), list, revoke.
import { useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { api, ApiError } from "../api/client";
import type { ApiKey, ApiKeyCreated } from "../api/types";
import { ResourceTable } from "../components/ResourceTable";
import { SecretOnce } from "../components/SecretOnce";
import { ErrorMessage, FieldError, PageTitle, When } from "../components/ui";
import { useResourceList } from "../hooks/useResourceList";

export function ApiKeysPage() {
  const keys = useResourceList<ApiKey>("api-keys", "/v1/api-keys");
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const create = useMutation({
    mutationFn: () => api<ApiKeyCreated>("/v1/api-keys", { method: "POST", body: { name } }),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      keys.added({ id: key.id, name: key.name, prefix: key.prefix, scope: key.scope, created_at: key.created_at, last_used_at: null });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api<void>(`/v1/api-keys/${id}`, { method: "DELETE" }),
    onSuccess: (_, id) => {
      if (created?.id === id) setCreated(null);
      keys.refresh();
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
        <SecretOnce label="New key" what="your new key" secret={created.key} copyLabel="Copy key" testId="new-key"
          onDismiss={() => setCreated(null)} />
      ) : null}
      <ResourceTable caption="Your API keys" what="keys" list={keys.list} empty="No keys yet."
        rowKey={(k) => k.id} rowData={(k) => ({ "data-key-id": k.id })}
        columns={[
          { header: "Name", cell: (k) => k.name },
          { header: "Key", cell: (k) => <code>{k.prefix}…</code> },
          { header: "Created", cell: (k) => <When at={k.created_at} /> },
          { header: "Last used", cell: (k) => <When at={k.last_used_at} /> },
        ]}
        remove={{ label: "Revoke", name: (k) => `Revoke ${k.name}`, run: (k) => revoke.mutate(k.id),
          pending: revoke.isPending, error: revoke.error }} />
    </>
  );
}
