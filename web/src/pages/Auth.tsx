// Sign up and log in: one form, two endpoints.
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { ApiError } from "../api/client";
import { useAuth } from "../auth";
import { ErrorMessage, FieldError, PageTitle } from "../components/ui";

function CredentialsForm({ mode }: { mode: "login" | "signup" }) {
  const { login, signup } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as { from?: string; expired?: boolean };
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fields = error instanceof ApiError ? error.fieldErrors() : {};

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (mode === "login" ? login(email, password) : signup(email, password));
      navigate(mode === "signup" ? "/new" : state.from ?? "/jobs", { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageTitle>{mode === "login" ? "Log in" : "Create your account"}</PageTitle>
      {state.expired && mode === "login" ? <p role="status" className="notice">Your session ended. Please log in again.</p> : null}
      <form onSubmit={submit} className="card narrow" noValidate aria-label={mode === "login" ? "Log in" : "Sign up"}>
        <label htmlFor="email">Email</label>
        <input id="email" type="email" autoComplete="email" required value={email}
          onChange={(e) => setEmail(e.target.value)} aria-invalid={!!fields.email}
          aria-describedby={fields.email ? "email-error" : undefined} />
        <FieldError id="email-error" message={fields.email} />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" required minLength={10}
          autoComplete={mode === "login" ? "current-password" : "new-password"} value={password}
          onChange={(e) => setPassword(e.target.value)} aria-invalid={!!fields.password}
          aria-describedby={fields.password ? "password-error" : "password-hint"} />
        {mode === "signup" ? <span className="hint" id="password-hint">At least 10 characters.</span> : null}
        <FieldError id="password-error" message={fields.password} />
        {Object.keys(fields).length ? null : <ErrorMessage error={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {mode === "login" ? "Log in" : "Sign up"}
        </button>
        <p>
          {mode === "login"
            ? <>No account yet? <Link to="/signup">Sign up</Link> · <Link to="/forgot-password">Forgot your password?</Link></>
            : <>Have an account? <Link to="/login">Log in</Link></>}
        </p>
      </form>
    </>
  );
}

export const LoginPage = () => <CredentialsForm mode="login" />;
export const SignupPage = () => <CredentialsForm mode="signup" />;
