// One job: live progress while it runs (useJobProgress), then the video, downloads, the step
// timeline with durations, providers, usage and cost, what the job cost and the credits left,
// notes, and the error with its code and step.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { TERMINAL, jobAspectClass, jobScenes, jobScript, jobTitle, type Job, type Step } from "../api/types";
import { CURRENT_USER_KEY, useCurrentUser } from "../hooks/useCurrentUser";
import { ACCOUNT_TEXT, dollars } from "../money";
import { timeLeftText } from "../hooks/progress";
import { useJobProgress } from "../hooks/useJobProgress";
import { ErrorMessage, Loading, PageTitle, ProgressBar, StatusBadge, When, seconds } from "../components/ui";

function usageText(step: Step): string {
  return (step.usage ?? []).map((u) => {
    const parts = [u.tokens_in || u.tokens_out ? `${u.tokens_in}+${u.tokens_out} tokens` : "",
      u.images ? `${u.images} image${u.images > 1 ? "s" : ""}` : "", u.characters ? `${u.characters} chars` : "",
      u.audio_s ? `${u.audio_s.toFixed(1)} s audio` : ""].filter(Boolean);
    return `${u.purpose}: ${u.provider}${u.model ? ` (${u.model})` : ""}${parts.length ? ` — ${parts.join(", ")}` : ""}`;
  }).join("; ") || "—";
}

/** "$0.0630, included in your plan": what a step cost and on whose account (offline: free). */
export function stepCostText(step: Step): string {
  const accounts = [...new Set((step.usage ?? []).map((u) => u.account).filter((a) => a !== "none"))];
  if (!accounts.length) return step.cost_micros ? dollars(step.cost_micros) : "free";
  return `${dollars(step.cost_micros)}, ${accounts.map((a) => ACCOUNT_TEXT[a]).join(" and ")}`;
}

/** The job's money: what it reserved, holds, was charged, spent on your own keys; credits left. */
function CostCard({ job, done }: { job: Job; done: boolean }) {
  const me = useCurrentUser();
  const cost = job.cost;
  if (!cost) return null;
  const credits = me.data?.credits;
  return (
    <section className="card" aria-label="Cost">
      <h2>Cost</h2>
      <dl className="facts">
        <div><dt>Reserved at submission</dt><dd data-testid="cost-estimate">{dollars(cost.estimate_micros)}</dd></div>
        {done ? (
          <div><dt>Charged to your credits</dt><dd data-testid="cost-charged">{dollars(cost.charged_micros)}</dd></div>
        ) : (
          <>
            <div><dt>Held now</dt><dd>{dollars(cost.held_micros)}</dd></div>
            <div><dt>Spent so far</dt><dd>{dollars(cost.platform_micros)}</dd></div>
          </>
        )}
        {cost.own_micros ? <div><dt>On your own keys</dt><dd>{dollars(cost.own_micros)} <span className="muted small">(billed by the provider)</span></dd></div> : null}
        {credits ? <div><dt>Credits left</dt><dd data-testid="credits-left">{dollars(credits.available_micros)}</dd></div> : null}
      </dl>
      {done && cost.estimate_micros > cost.charged_micros
        ? <p className="muted small">{dollars(cost.estimate_micros - cost.charged_micros)} of what it reserved went back to your credits.</p> : null}
    </section>
  );
}

/** The time left, counting down each second from the latest estimate (`endsAt`, this clock). */
function TimeLeft({ endsAt }: { endsAt: number | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (endsAt === null) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [endsAt]);
  const text = endsAt === null ? null : timeLeftText(Math.max(0, (endsAt - now) / 1000));
  return text ? <span className="muted" data-testid="time-left">{text}</span> : null;
}

export function JobPage() {
  const { id = "" } = useParams();
  const queryClient = useQueryClient();
  const job = useQuery({ queryKey: ["job", id], queryFn: () => api<Job>(`/v1/jobs/${id}`) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["job", id] });
  const live = useJobProgress(id, job.data, { onBoundary: () => void refresh() });
  const ended = !!job.data && TERMINAL.includes(job.data.status);
  useEffect(() => { // a job that ended settled its credits: the balance changed
    if (ended) void queryClient.invalidateQueries({ queryKey: CURRENT_USER_KEY });
  }, [ended, queryClient]);
  const act = useMutation({
    mutationFn: (action: "cancel" | "retry") => api<Job>(`/v1/jobs/${id}/${action}`, { method: "POST" }),
    onSuccess: (updated) => {
      queryClient.setQueryData(["job", id], updated);
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
    },
  });

  if (job.isLoading) return <><PageTitle>Video</PageTitle><Loading what="the video" /></>;
  if (job.error || !job.data) return <><PageTitle>Video</PageTitle><ErrorMessage error={job.error} /></>;
  const data = job.data;
  const done = TERMINAL.includes(data.status);
  // While it runs the events are fresher than the last fetch; once it ended, the job is the truth.
  const status = done ? data.status : live.updates ? live.status : data.status;
  const progress = done ? data.progress : Math.max(live.progress, data.progress);
  const stepsLive = new Map(live.steps.map((s) => [s.name, s]));
  // The events' estimate while they come; before the first one, the job's own (as fetched).
  const endsAt = done ? null : live.endsAt ?? (typeof data.eta_s === "number" ? job.dataUpdatedAt + data.eta_s * 1000 : null);
  const canCancel = status === "queued" || status === "running";
  const canRetry = data.status === "failed" || data.status === "canceled";
  const script = jobScript(data);
  const scenes = jobScenes(data);

  return (
    <>
      <PageTitle>Video</PageTitle>
      <p className="prompt-quote">“{jobTitle(data)}”</p>
      <section className="card" aria-label="Progress" data-updates={live.updates} data-status={status}>
        <div className="status-line">
          <span>Status: <StatusBadge status={status} /></span>
          <TimeLeft endsAt={endsAt} />
          <span className="muted">attempt {data.attempt}</span>
        </div>
        <ProgressBar value={progress} label="Video progress" id="job-progress" />
        <ol className="steps">
          {data.steps.map((step) => {
            const l = stepsLive.get(step.name);
            const useLive = !done && l && live.updates > 0;
            const stepStatus = useLive ? l.status : step.status;
            const stepProgress = useLive ? Math.max(l.progress, step.progress) : step.progress;
            return (
              <li key={step.name} data-step={step.name} data-status={stepStatus}>
                <span className="step-name">{step.name}</span> <StatusBadge status={stepStatus} />
                <ProgressBar value={stepProgress} label={`${step.name} step`} />
                {useLive && l.message && stepStatus === "running" ? <span className="muted small" data-testid="step-message">{l.message}</span> : null}
              </li>
            );
          })}
        </ol>
        <p className="sr-only" aria-live="polite">{status === "succeeded" ? "The video is ready." : status === "failed" ? "The video failed." : ""}</p>
        <div className="actions">
          <button type="button" onClick={() => act.mutate("cancel")} disabled={!canCancel || act.isPending}>Cancel</button>
          <button type="button" onClick={() => act.mutate("retry")} disabled={!canRetry || act.isPending}>Retry</button>
        </div>
        <ErrorMessage error={act.error} />
      </section>

      {data.error ? (
        <section className="card error-card" aria-label="Error">
          <h2>What went wrong</h2>
          <p>{data.error.message}</p>
          <p>Code <code>{data.error.code}</code>{data.error.step ? <> in step <code>{data.error.step}</code></> : null}</p>
        </section>
      ) : null}

      <CostCard job={data} done={done} />

      {data.outputs ? (
        <section className="card" aria-label="Video">
          <h2>Your video</h2>
          <video controls preload="metadata" src={data.outputs.video_url} poster={data.outputs.thumbnail_url}
            className={`player aspect-${jobAspectClass(data)}`}
            aria-label="The finished video (captions are part of the picture; the SRT file is below)" />
          <ul className="downloads" aria-label="Downloads">
            <li><a href={data.outputs.video_url} download>Download MP4</a></li>
            <li><a href={data.outputs.thumbnail_url} download>Download thumbnail</a></li>
            <li><a href={data.outputs.captions_url} download>Download captions</a></li>
          </ul>
          <p className="muted small">Links expire <When at={data.outputs.expires_at} />.</p>
        </section>
      ) : null}

      <section className="card" aria-label="Timeline">
        <h2>Timeline</h2>
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Steps with their timing, provider, usage and cost</caption>
            <thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Took</th><th scope="col">Provider</th><th scope="col">Usage</th><th scope="col">Cost</th></tr></thead>
            <tbody>
              {data.steps.map((s) => (
                <tr key={s.name}>
                  <th scope="row">{s.name}</th><td>{s.status}</td><td><When at={s.started_at} /></td>
                  <td>{seconds(s.started_at, s.finished_at)}</td><td>{s.provider ?? "—"}</td><td>{usageText(s)}</td>
                  <td data-testid={`step-cost-${s.name}`}>{stepCostText(s)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p className="muted small">Submitted <When at={data.created_at} />; took {seconds(data.started_at, data.finished_at)} in all.</p>
      </section>

      {data.notes?.length ? (
        <section className="card" aria-label="Notes">
          <h2>Notes</h2>
          <ul>{data.notes.map((n) => <li key={n}>{n}</li>)}</ul>
        </section>
      ) : null}

      <section className="card" aria-label="Request">
        <h2>Request</h2>
        {script ? <details><summary>Script</summary><p className="pre">{script}</p></details> : null}
        {scenes ? (
          <details><summary>Scenes ({scenes.length})</summary>
            <ol>{scenes.map((scene, i) => <li key={i}>{scene}</li>)}</ol>
          </details>
        ) : null}
        <dl className="facts">
          {Object.entries(data.request).filter(([k]) => k !== "prompt" && k !== "script" && k !== "scenes").map(([k, v]) => (
            <div key={k}><dt>{k}</dt><dd>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd></div>
          ))}
        </dl>
      </section>
      <p><Link to="/jobs">All videos</Link></p>
    </>
  );
}
