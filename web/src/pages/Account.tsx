// Email verification and password reset: the pages the mailed links open
// (/verify-email?token=, /reset-password?token=), and the request for a reset link.
import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, ApiError } from "../api/client";
import type { EmailVerified, TokenReply } from "../api/types";
import { useAuth } from "../auth";
import { ErrorMessage, FieldError, PageTitle } from "../components/ui";
import { CURRENT_USER_KEY, useCurrentUser } from "../hooks/useCurrentUser";

// Confirmed by a button, signed in: a mail scanner that runs the page's scripts, or a click on the
// link of an account someone else signed up with, verifies nothing (the API wants the session too).
export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { token: session } = useAuth();
  const queryClient = useQueryClient();
  const verify = useMutation({
    mutationFn: () => api<EmailVerified>("/v1/auth/verify-email", { method: "POST", body: { token } }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: CURRENT_USER_KEY }),
  });
  const here = `/verify-email?${new URLSearchParams({ token }).toString()}`;
  return (
    <>
      <PageTitle>Verify your email</PageTitle>
      <div className="card narrow" aria-live="polite">
        {!token ? <p className="error" role="alert">This link has no token. Open the link from the email again.</p> : null}
        {token && !session ? (
          <p role="status">Log in to the account you signed up with, then confirm the address here.{" "}
            <Link to="/login" state={{ from: here }}>Log in</Link></p>
        ) : null}
        {token && session && !verify.isSuccess ? (
          <button type="button" className="primary" disabled={verify.isPending} onClick={() => verify.mutate()}>
            Confirm my email address
          </button>
        ) : null}
        {verify.isPending ? <p role="status">Checking your link…</p> : null}
        {verify.isSuccess ? <p role="status" className="notice">{verify.data.user.email} is verified. Thank you!</p> : null}
        <ErrorMessage error={verify.error} />
        {session ? <p><Link to="/jobs">Go to your videos</Link></p> : null}
      </div>
    </>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const send = useMutation({
    mutationFn: () => api("/v1/auth/password-reset", { method: "POST", body: { email } }),
  });
  const fields = send.error instanceof ApiError ? send.error.fieldErrors() : {};
  const submit = (e: FormEvent) => { e.preventDefault(); send.mutate(); };
  return (
    <>
      <PageTitle>Reset your password</PageTitle>
      <form className="card narrow" onSubmit={submit} aria-label="Request a reset link" noValidate>
        <label htmlFor="reset-email">Email</label>
        <input id="reset-email" type="email" autoComplete="email" required value={email}
          onChange={(e) => setEmail(e.target.value)} aria-invalid={!!fields.email}
          aria-describedby={fields.email ? "reset-email-error" : undefined} />
        <FieldError id="reset-email-error" message={fields.email} />
        {fields.email ? null : <ErrorMessage error={send.error} />}
        {send.isSuccess ? <p role="status" className="notice">If an account uses that address, a reset link is on its way.</p> : null}
        <button type="submit" className="primary" disabled={send.isPending}>Send the link</button>
        <p><Link to="/login">Back to log in</Link></p>
      </form>
    </>
  );
}

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const { accept } = useAuth();
  const navigate = useNavigate();
  const reset = useMutation({
    mutationFn: () => api<TokenReply>("/v1/auth/password-reset/confirm", { method: "POST", body: { token, password } }),
    onSuccess: (reply) => { accept(reply); navigate("/jobs", { replace: true }); },
  });
  const fields = reset.error instanceof ApiError ? reset.error.fieldErrors() : {};
  const submit = (e: FormEvent) => { e.preventDefault(); reset.mutate(); };
  return (
    <>
      <PageTitle>Choose a new password</PageTitle>
      <form className="card narrow" onSubmit={submit} aria-label="Choose a new password" noValidate>
        {!token ? <p className="error" role="alert">This link has no token. Open the link from the email again.</p> : null}
        <label htmlFor="new-password">New password</label>
        <input id="new-password" type="password" autoComplete="new-password" required minLength={10} value={password}
          onChange={(e) => setPassword(e.target.value)} aria-invalid={!!fields.password}
          aria-describedby={fields.password ? "new-password-error" : "new-password-hint"} />
        <span className="hint" id="new-password-hint">At least 10 characters. You stay logged in here; other sessions end.</span>
        <FieldError id="new-password-error" message={fields.password} />
        {fields.password ? null : <ErrorMessage error={reset.error} />}
        <button type="submit" className="primary" disabled={reset.isPending || !token}>Set password</button>
      </form>
    </>
  );
}

/** Shown while the logged-in account's address is unverified, with a resend button. */
export function VerifyBanner() {
  const me = useCurrentUser();
  const resend = useMutation({ mutationFn: () => api("/v1/auth/resend-verification", { method: "POST" }) });
  if (!me.data || me.data.email_verified !== false) return null;
  return (
    <div className="notice banner" role="region" aria-label="Email verification">
      <span>Please verify {me.data.email}: open the link we mailed you.</span>{" "}
      {resend.isSuccess ? <span role="status">A new link is on its way.</span> : (
        <button type="button" onClick={() => resend.mutate()} disabled={resend.isPending}>Send the link again</button>
      )}
      <ErrorMessage error={resend.error} />
    </div>
  );
}
