// Small shared pieces: progress bar, errors, copy button, dates, page titles.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";

export function ProgressBar({ value, label, id }: { value: number; label: string; id?: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div className="progress" id={id}>
      <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}
        className="progress-track">
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="progress-value" aria-hidden="true">{pct}%</span>
    </div>
  );
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError ? error.message : (error as Error).message ?? String(error);
  const code = error instanceof ApiError ? error.code : null;
  return (
    <p className="error" role="alert">
      {message}{code ? <> <code>({code})</code></> : null}
    </p>
  );
}

export function FieldError({ id, message }: { id: string; message?: string }) {
  if (!message) return null;
  return <span className="field-error" id={id}>{message}</span>;
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" onClick={copy} aria-live="polite">
      {copied ? "Copied" : label}
    </button>
  );
}

/** Sets document.title and moves focus to the page heading on navigation (keyboard users). */
export function PageTitle({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${children} · Media console`;
    ref.current?.focus();
  }, [children]);
  return <h1 tabIndex={-1} ref={ref}>{children}</h1>;
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <>—</>;
  const d = new Date(at);
  return <time dateTime={at}>{d.toLocaleString()}</time>;
}

export function Loading({ what }: { what: string }) {
  return <p role="status" className="muted">Loading {what}…</p>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return <section className="card" aria-label={title}><h2>{title}</h2>{children}</section>;
}

export function seconds(from: string | null, to: string | null): string {
  if (!from || !to) return "—";
  const s = (new Date(to).getTime() - new Date(from).getTime()) / 1000;
  return `${s.toFixed(1)} s`;
}
