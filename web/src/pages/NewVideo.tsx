// New video: the job request, bounded by the plan, with the API's 422 details by their fields.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router-dom";
import { api, ApiError } from "../api/client";
import { uploadFile } from "../api/upload";
import type { Job, Me, StepProviders } from "../api/types";
import { ErrorMessage, FieldError, Loading, PageTitle, ProgressBar } from "../components/ui";

export const ASPECTS = [["9:16", "Portrait 9:16"], ["16:9", "Landscape 16:9"], ["1:1", "Square 1:1"]] as const;
const MIN_DURATION = 5;

export interface VideoForm {
  prompt: string; duration_s: number; aspect: string; style: string; voice: string; language: string;
  providers: Record<string, string>;
}

/** The request body: empty optional fields are left out, so the API's defaults apply. */
export function jobRequest(form: VideoForm, referenceUploadId?: string | null): Record<string, unknown> {
  const body: Record<string, unknown> = { prompt: form.prompt.trim(), duration_s: form.duration_s, aspect: form.aspect };
  if (form.style.trim()) body.style = form.style.trim();
  if (form.voice.trim()) body.voice = form.voice.trim();
  if (form.language.trim()) body.language = form.language.trim();
  const providers = Object.fromEntries(Object.entries(form.providers).filter(([, v]) => v));
  if (Object.keys(providers).length) body.providers = providers;
  if (referenceUploadId) body.inputs = { reference_image_upload_id: referenceUploadId };
  return body;
}

function describe(option: { name: string; needs_key: boolean; has_key: boolean }) {
  if (!option.needs_key) return `${option.name} (no key needed)`;
  return `${option.name} (${option.has_key ? "your key is stored" : "needs your key: not stored"})`;
}

export function NewVideoPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useQuery({ queryKey: ["me"], queryFn: () => api<Me>("/v1/me") });
  const catalog = useQuery({ queryKey: ["providers"], queryFn: () => api<{ items: StepProviders[] }>("/v1/providers") });
  const [form, setForm] = useState<VideoForm>({
    prompt: "", duration_s: 15, aspect: "9:16", style: "", voice: "", language: "en", providers: {},
  });
  const [file, setFile] = useState<File | null>(null);
  const [uploadPct, setUploadPct] = useState<number | null>(null);
  const maxDuration = me.data?.plan.max_duration_s ?? 180;

  const submit = useMutation({
    mutationFn: async () => {
      let uploadId: string | null = null;
      if (file) {
        setUploadPct(0);
        uploadId = await uploadFile(file, setUploadPct);
      }
      return api<Job>("/v1/jobs", {
        method: "POST", body: jobRequest(form, uploadId),
        headers: { "Idempotency-Key": crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}` },
      });
    },
    onSuccess: (job) => {
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      queryClient.setQueryData(["job", job.id], job);
      navigate(`/jobs/${job.id}`);
    },
  });
  const fields = submit.error instanceof ApiError ? submit.error.fieldErrors() : {};
  const set = <K extends keyof VideoForm>(key: K, value: VideoForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const described = (name: string, hint?: string) =>
    [fields[name] ? `${name.replace(/\./g, "-")}-error` : null, hint].filter(Boolean).join(" ") || undefined;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    submit.mutate();
  };

  if (me.isLoading) return <><PageTitle>New video</PageTitle><Loading what="your plan" /></>;
  return (
    <>
      <PageTitle>New video</PageTitle>
      <form className="card" onSubmit={onSubmit} aria-label="New video" noValidate>
        <label htmlFor="prompt">Prompt</label>
        <textarea id="prompt" rows={4} maxLength={2000} required value={form.prompt}
          onChange={(e) => set("prompt", e.target.value)} aria-invalid={!!fields.prompt}
          aria-describedby={described("prompt")} placeholder="A paper boat sails to the moon" />
        <FieldError id="prompt-error" message={fields.prompt} />

        <div className="row">
          <div>
            <label htmlFor="duration">Duration (seconds)</label>
            <input id="duration" type="number" min={MIN_DURATION} max={maxDuration} step={1} value={form.duration_s}
              onChange={(e) => set("duration_s", Number(e.target.value))} aria-invalid={!!fields.duration_s}
              aria-describedby={described("duration_s", "duration-hint")} />
            <span className="hint" id="duration-hint">
              {MIN_DURATION}–{maxDuration} s on your {me.data?.plan.name ?? ""} plan
            </span>
            <FieldError id="duration_s-error" message={fields.duration_s} />
          </div>
          <fieldset>
            <legend>Aspect</legend>
            {ASPECTS.map(([value, label]) => (
              <label key={value} className="inline">
                <input type="radio" name="aspect" value={value} checked={form.aspect === value}
                  onChange={() => set("aspect", value)} /> {label}
              </label>
            ))}
            <FieldError id="aspect-error" message={fields.aspect} />
          </fieldset>
        </div>

        <div className="row">
          <div>
            <label htmlFor="style">Style <span className="muted">(optional)</span></label>
            <input id="style" value={form.style} maxLength={200} onChange={(e) => set("style", e.target.value)}
              aria-invalid={!!fields.style} aria-describedby={described("style")} placeholder="watercolor" />
            <FieldError id="style-error" message={fields.style} />
          </div>
          <div>
            <label htmlFor="voice">Voice <span className="muted">(optional)</span></label>
            <input id="voice" value={form.voice} maxLength={64} onChange={(e) => set("voice", e.target.value)}
              aria-invalid={!!fields.voice} aria-describedby={described("voice")} />
            <FieldError id="voice-error" message={fields.voice} />
          </div>
          <div>
            <label htmlFor="language">Language</label>
            <input id="language" value={form.language} maxLength={16} onChange={(e) => set("language", e.target.value)}
              aria-invalid={!!fields.language} aria-describedby={described("language")} />
            <FieldError id="language-error" message={fields.language} />
          </div>
        </div>

        <fieldset>
          <legend>Providers per step</legend>
          {catalog.isLoading ? <Loading what="providers" /> : null}
          <div className="row">
            {(catalog.data?.items ?? []).map((step) => (
              <div key={step.step}>
                <label htmlFor={`provider-${step.step}`}>{step.step} provider</label>
                <select id={`provider-${step.step}`} value={form.providers[step.step] ?? ""}
                  aria-invalid={!!fields[`providers.${step.step}`]}
                  aria-describedby={described(`providers.${step.step}`)}
                  onChange={(e) => set("providers", { ...form.providers, [step.step]: e.target.value })}>
                  <option value="">Default ({step.default})</option>
                  {step.providers.map((p) => <option key={p.name} value={p.name}>{describe(p)}</option>)}
                </select>
                <FieldError id={`providers-${step.step}-error`} message={fields[`providers.${step.step}`]} />
              </div>
            ))}
          </div>
        </fieldset>

        <label htmlFor="reference">Reference image <span className="muted">(optional: PNG, JPEG or WebP)</span></label>
        <input id="reference" type="file" accept="image/png,image/jpeg,image/webp"
          onChange={(e) => { setFile(e.target.files?.[0] ?? null); setUploadPct(null); }} />
        {uploadPct !== null ? <ProgressBar value={uploadPct} label="Reference image upload" id="upload-progress" /> : null}
        <FieldError id="inputs-error" message={fields["inputs.reference_image_upload_id"]} />

        {Object.keys(fields).length ? <p className="error" role="alert">Please fix the fields marked above.</p>
          : <ErrorMessage error={submit.error} />}
        <button type="submit" className="primary" disabled={submit.isPending}>
          {submit.isPending ? "Submitting…" : "Make the video"}
        </button>
      </form>
    </>
  );
}
