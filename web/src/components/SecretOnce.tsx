// A secret the API shows only in its create reply (an API key, a webhook signing secret): shown
// once with a copy button and a warning, until the user says it is stored.
import { CopyButton } from "./ui";

export interface SecretOnceProps {
  /** The region's accessible name, e.g. "New key". */
  label: string;
  /** What to copy, e.g. "your new key": the warning reads "Copy {what} now." */
  what: string;
  secret: string;
  copyLabel: string;
  testId: string;
  onDismiss: () => void;
}

export function SecretOnce({ label, what, secret, copyLabel, testId, onDismiss }: SecretOnceProps) {
  return (
    <div className="card notice" role="status" aria-label={label}>
      <p><strong>Copy {what} now.</strong> It is shown only this once.</p>
      <p className="secret"><code data-testid={testId}>{secret}</code> <CopyButton text={secret} label={copyLabel} /></p>
      <button type="button" className="link" onClick={onDismiss}>I stored it</button>
    </div>
  );
}
