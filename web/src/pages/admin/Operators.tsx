// Who holds the operator role; an operator grants it to another account by email and revokes
// it (at once) here, as `python -m chalicelib.runtime.ops grant-operator` does. Both are audited.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { AdminOperator, AdminOperatorList } from "../../api/types";
import { useCurrentUser } from "../../hooks/useCurrentUser";
import { ErrorMessage, Loading, PageTitle, Section } from "../../components/ui";

const KEY = ["admin", "operators"];

export function AdminOperatorsPage() {
  const me = useCurrentUser();
  const client = useQueryClient();
  const [email, setEmail] = useState("");
  const [done, setDone] = useState("");
  const list = useQuery({ queryKey: KEY, queryFn: ({ signal }) => api<AdminOperatorList>("/v1/admin/operators", { signal }) });
  const refresh = () => client.invalidateQueries({ queryKey: KEY });
  const grant = useMutation({
    mutationFn: (address: string) => api<AdminOperator>("/v1/admin/operators", { method: "POST", body: { email: address } }),
    onSuccess: (op) => { setEmail(""); setDone(`${op.email} is an operator from their next login.`); void refresh(); },
  });
  const revoke = useMutation({
    mutationFn: (op: AdminOperator) => api(`/v1/admin/operators/${encodeURIComponent(op.id)}`, { method: "DELETE" }).then(() => op),
    onSuccess: (op) => { setDone(`${op.email} is no longer an operator.`); void refresh(); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); if (email.trim()) grant.mutate(email.trim()); };
  return (
    <>
      <PageTitle>Operators</PageTitle>
      <Section title="Grant the role">
        <form className="inline-form" onSubmit={submit}>
          <label htmlFor="operator-email">Account email</label>
          <input id="operator-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <button type="submit" className="primary" disabled={grant.isPending}>Grant operator role</button>
        </form>
      </Section>
      {done ? <p role="status">{done}</p> : null}
      <ErrorMessage error={grant.error ?? revoke.error ?? list.error} />
      {list.isLoading ? <Loading what="operators" /> : null}
      {list.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Accounts with the operator role</caption>
            <thead><tr><th scope="col">Email</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.data.items.map((op) => (
                <tr key={op.id} data-operator-id={op.id}>
                  <th scope="row">{op.email}</th>
                  <td>
                    {op.id === me.data?.id ? <span className="muted">you</span> : (
                      <button type="button" className="danger" aria-label={`Revoke ${op.email}`} disabled={revoke.isPending}
                        onClick={() => { if (window.confirm(`Revoke ${op.email}'s operator role?`)) revoke.mutate(op); }}>
                        Revoke
                      </button>
                    )}
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
