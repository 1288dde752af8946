// New video: the job request, bounded by the plan, with the API's 422 details by their fields,
// what the plan includes per step, and the estimate beside the submit button.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router-dom";
import { api, ApiError } from "../api/client";
import { uploadFile } from "../api/upload";
import type { Job, ProviderCatalog, StepProviders } from "../api/types";
import { CURRENT_USER_KEY, useCurrentUser } from "../hooks/useCurrentUser";
import { ESTIMATE_KEY } from "../hooks/useEstimate";
import { EstimatePanel } from "../components/Estimate";
import { ErrorMessage, FieldError, Loading, PageTitle, ProgressBar } from "../components/ui";
import { creditsShortfall, dollars, modelText } from "../money";

export const ASPECTS = [["9:16", "Portrait 9:16"], ["16:9", "Landscape 16:9"], ["1:1", "Square 1:1"]] as const;
const MIN_DURATION = 5;

export type Source = "prompt" | "script" | "scenes";
export interface SceneRow { text: string; visual: string; duration_s: string }
export const MAX_SCENES = 30;

export const MOTIONS = [["none", "Moving stills (slow zoom and crossfades)"],
  ["ai", "AI clips: each still becomes a generated clip"]] as const;

export const CAPTION_STYLES = [["karaoke", "Karaoke (the spoken word lights up)"], ["lines", "Lines"], ["none", "None"]] as const;

export interface VideoForm {
  source: Source; prompt: string; script: string; scenes: SceneRow[];
  duration_s: number; aspect: string; style: string; voice: string; language: string;
  providers: Record<string, string>;
  caption_style?: string; narration?: boolean; music_volume?: number; motion?: string;
}

export const emptyScene = (): SceneRow => ({ text: "", visual: "", duration_s: "" });

/** The request body: one source (prompt, script or scenes); empty optional fields are left out,
 * so the API's defaults apply. */
export function jobRequest(form: VideoForm, referenceUploadId?: string | null,
                           musicUploadId?: string | null): Record<string, unknown> {
  const body: Record<string, unknown> = { duration_s: form.duration_s, aspect: form.aspect };
  if (form.source === "prompt") body.prompt = form.prompt.trim();
  if (form.source === "script") body.script = form.script.trim();
  if (form.source === "scenes") {
    body.scenes = form.scenes.map((s) => {
      const scene: Record<string, unknown> = { text: s.text.trim() };
      if (s.visual.trim()) scene.visual = s.visual.trim();
      if (s.duration_s.trim()) scene.duration_s = Number(s.duration_s);
      return scene;
    });
  }
  if (form.style.trim()) body.style = form.style.trim();
  if (form.voice.trim()) body.voice = form.voice.trim();
  if (form.language.trim()) body.language = form.language.trim();
  const providers = Object.fromEntries(Object.entries(form.providers).filter(([, v]) => v));
  if (Object.keys(providers).length) body.providers = providers;
  if (form.caption_style) body.caption_style = form.caption_style;
  if (form.narration === false) body.narration = false;
  if (form.motion && form.motion !== "none") body.motion = form.motion;
  const inputs: Record<string, string> = {};
  if (referenceUploadId) inputs.reference_image_upload_id = referenceUploadId;
  if (musicUploadId) {
    inputs.music_upload_id = musicUploadId;
    if (form.music_volume !== undefined) body.music_volume = form.music_volume;
  }
  if (Object.keys(inputs).length) body.inputs = inputs;
  return body;
}

/** The form describes a video (something to say or show): worth an estimate. */
export function describesVideo(form: VideoForm): boolean {
  if (form.source === "prompt") return form.prompt.trim() !== "";
  if (form.source === "script") return form.script.trim() !== "";
  return form.scenes.some((s) => s.text.trim() !== "");
}

/** What the caller's plan gives a step on the platform's account, or what needs their own key. */
export function includedText(step: StepProviders): string | null {
  const inc = step.included;
  const own = step.providers.filter((p) => p.needs_key);
  if (inc && own.some((p) => p.name === inc.provider && p.has_key)) return `Runs on your own ${inc.provider} key (no credits)`;
  if (inc?.available) return `Included in your plan: ${modelText(inc)}`;
  if (inc) return `Your plan includes ${modelText(inc)}, not set up on this server yet: offline`;
  if (!own.length) return null;
  const stored = own.filter((p) => p.has_key).map((p) => p.name);
  return stored.length ? `Not in your plan; your own key runs it (${stored.join(", ")})`
    : `Not in your plan: ${own.map((p) => p.name).join(", ")} needs your own key, else offline`;
}

function defaultLabel(step: StepProviders): string {
  const inc = step.included;
  if (inc?.available && !step.providers.some((p) => p.name === inc.provider && p.needs_key && p.has_key)) {
    return "Default (included in your plan)";
  }
  return `Default (${step.default})`;
}

function describe(option: { name: string; needs_key: boolean; has_key: boolean }) {
  if (!option.needs_key) return `${option.name} (no key needed)`;
  return `${option.name} (${option.has_key ? "your key is stored" : "needs your key: not stored"})`;
}

export function NewVideoPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useCurrentUser();
  const catalog = useQuery({ queryKey: ["providers"],
    queryFn: () => api<ProviderCatalog>("/v1/providers") });
  const [form, setForm] = useState<VideoForm>({
    source: "prompt", prompt: "", script: "", scenes: [emptyScene()],
    duration_s: 15, aspect: "9:16", style: "", voice: "", language: "en", providers: {},
    caption_style: "karaoke", narration: true, music_volume: 0.35, motion: "none",
  });
  const [music, setMusic] = useState<File | null>(null);
  const [musicPct, setMusicPct] = useState<number | null>(null);
  const voices = (catalog.data?.voices ?? []).filter((v) =>
    v.languages.includes("*") || v.languages.some((l) => l.split("-")[0] === form.language.split("-")[0]));
  const setScene = (i: number, patch: Partial<SceneRow>) =>
    setForm((f) => ({ ...f, scenes: f.scenes.map((s, j) => (j === i ? { ...s, ...patch } : s)) }));
  const [file, setFile] = useState<File | null>(null);
  const [uploadPct, setUploadPct] = useState<number | null>(null);
  const maxDuration = me.data?.plan.max_duration_s ?? 180;

  const submit = useMutation({
    mutationFn: async () => {
      let uploadId: string | null = null;
      let musicId: string | null = null;
      if (file) {
        setUploadPct(0);
        uploadId = await uploadFile(file, setUploadPct);
      }
      if (music) {
        setMusicPct(0);
        musicId = await uploadFile(music, setMusicPct);
      }
      return api<Job>("/v1/jobs", {
        method: "POST", body: jobRequest(form, uploadId, musicId),
        headers: { "Idempotency-Key": crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}` },
      });
    },
    onSuccess: (job) => {
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      void queryClient.invalidateQueries({ queryKey: CURRENT_USER_KEY }); // credits now held
      void queryClient.invalidateQueries({ queryKey: ESTIMATE_KEY });
      queryClient.setQueryData(["job", job.id], job);
      navigate(`/jobs/${job.id}`);
    },
  });
  const fields = submit.error instanceof ApiError ? submit.error.fieldErrors() : {};
  const short = submit.error instanceof ApiError && submit.error.code === "credits_exhausted"
    ? creditsShortfall(submit.error.details) : null;
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
        <fieldset>
          <legend>Start from</legend>
          {([["prompt", "An idea"], ["script", "My script"], ["scenes", "Scene by scene"]] as const).map(([value, label]) => (
            <label key={value} className="inline">
              <input type="radio" name="source" value={value} checked={form.source === value}
                onChange={() => set("source", value)} /> {label}
            </label>
          ))}
          <FieldError id="body-error" message={fields.body} />
        </fieldset>

        {form.source === "prompt" ? (
          <>
            <label htmlFor="prompt">Prompt</label>
            <textarea id="prompt" rows={4} maxLength={2000} required value={form.prompt}
              onChange={(e) => set("prompt", e.target.value)} aria-invalid={!!fields.prompt}
              aria-describedby={described("prompt")} placeholder="A paper boat sails to the moon" />
            <FieldError id="prompt-error" message={fields.prompt} />
          </>
        ) : null}

        {form.source === "script" ? (
          <>
            <label htmlFor="script">Script</label>
            <textarea id="script" rows={8} maxLength={20000} required value={form.script}
              onChange={(e) => set("script", e.target.value)} aria-invalid={!!fields.script}
              aria-describedby={described("script", "script-hint")} />
            <span className="hint" id="script-hint">Your narration, spoken and captioned as written; it is split into scenes at sentence and paragraph ends.</span>
            <FieldError id="script-error" message={fields.script} />
          </>
        ) : null}

        {form.source === "scenes" ? (
          <ol className="scenes" aria-label="Scenes">
            {form.scenes.map((scene, i) => (
              <li key={i} className="scene">
                <label htmlFor={`scene-${i}-text`}>Scene {i + 1}: line</label>
                <textarea id={`scene-${i}-text`} rows={2} maxLength={1000} value={scene.text}
                  onChange={(e) => setScene(i, { text: e.target.value })} aria-invalid={!!fields[`scenes.${i}.text`]}
                  aria-describedby={described(`scenes.${i}.text`)} />
                <FieldError id={`scenes-${i}-text-error`} message={fields[`scenes.${i}.text`]} />
                <div className="row">
                  <div>
                    <label htmlFor={`scene-${i}-visual`}>Scene {i + 1}: what it shows <span className="muted">(optional)</span></label>
                    <input id={`scene-${i}-visual`} maxLength={500} value={scene.visual}
                      onChange={(e) => setScene(i, { visual: e.target.value })} aria-invalid={!!fields[`scenes.${i}.visual`]}
                      aria-describedby={described(`scenes.${i}.visual`)} />
                    <FieldError id={`scenes-${i}-visual-error`} message={fields[`scenes.${i}.visual`]} />
                  </div>
                  <div>
                    <label htmlFor={`scene-${i}-duration`}>Scene {i + 1}: seconds <span className="muted">(optional)</span></label>
                    <input id={`scene-${i}-duration`} type="number" min={1} max={60} value={scene.duration_s}
                      onChange={(e) => setScene(i, { duration_s: e.target.value })} aria-invalid={!!fields[`scenes.${i}.duration_s`]}
                      aria-describedby={described(`scenes.${i}.duration_s`)} />
                    <FieldError id={`scenes-${i}-duration_s-error`} message={fields[`scenes.${i}.duration_s`]} />
                  </div>
                </div>
                <button type="button" onClick={() => set("scenes", form.scenes.filter((_, j) => j !== i))}
                  disabled={form.scenes.length === 1} aria-label={`Remove scene ${i + 1}`}>Remove</button>
              </li>
            ))}
            <li>
              <button type="button" onClick={() => set("scenes", [...form.scenes, emptyScene()])}
                disabled={form.scenes.length >= MAX_SCENES}>Add a scene</button>
              <FieldError id="scenes-error" message={fields.scenes} />
            </li>
          </ol>
        ) : null}

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
            <label htmlFor="motion">Motion</label>
            <select id="motion" value={form.motion} onChange={(e) => set("motion", e.target.value)}
              aria-invalid={!!fields.motion} aria-describedby={described("motion")}>
              {MOTIONS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
            </select>
            <FieldError id="motion-error" message={fields.motion} />
          </div>
          <div>
            <label htmlFor="voice">Voice</label>
            {voices.length ? (
              <select id="voice" value={form.voice} onChange={(e) => set("voice", e.target.value)}
                aria-invalid={!!fields.voice} aria-describedby={described("voice")}>
                <option value="">Default for the language</option>
                {voices.map((v) => <option key={`${v.provider}-${v.name}`} value={v.name}>{v.name} ({v.provider}, {v.engine})</option>)}
              </select>
            ) : (
              <input id="voice" value={form.voice} maxLength={64} onChange={(e) => set("voice", e.target.value)}
                aria-invalid={!!fields.voice} aria-describedby={described("voice")} />
            )}
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
                  aria-describedby={described(`providers.${step.step}`, includedText(step) ? `provider-${step.step}-hint` : undefined)}
                  onChange={(e) => set("providers", { ...form.providers, [step.step]: e.target.value })}>
                  <option value="">{defaultLabel(step)}</option>
                  {step.providers.map((p) => <option key={p.name} value={p.name}>{describe(p)}</option>)}
                </select>
                {includedText(step) ? <span className="hint" id={`provider-${step.step}-hint`}
                  data-included={step.included?.available ? "true" : "false"}>{includedText(step)}</span> : null}
                <FieldError id={`providers-${step.step}-error`} message={fields[`providers.${step.step}`]} />
              </div>
            ))}
          </div>
        </fieldset>

        <fieldset>
          <legend>Sound and captions</legend>
          <div className="row">
            <div>
              <label htmlFor="caption-style">Captions</label>
              <select id="caption-style" value={form.caption_style} onChange={(e) => set("caption_style", e.target.value)}
                aria-invalid={!!fields.caption_style} aria-describedby={described("caption_style")}>
                {CAPTION_STYLES.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
              </select>
              <FieldError id="caption_style-error" message={fields.caption_style} />
            </div>
            <div>
              <label className="inline" htmlFor="narration">
                <input id="narration" type="checkbox" checked={form.narration} onChange={(e) => set("narration", e.target.checked)} />
                Narration (a voice reads the script)
              </label>
            </div>
          </div>
          <label htmlFor="music">Music <span className="muted">(optional: MP3 or WAV, played under the voice)</span></label>
          <input id="music" type="file" accept="audio/mpeg,audio/wav"
            onChange={(e) => { setMusic(e.target.files?.[0] ?? null); setMusicPct(null); }} />
          {musicPct !== null ? <ProgressBar value={musicPct} label="Music upload" id="music-progress" /> : null}
          <FieldError id="music-error" message={fields["inputs.music_upload_id"]} />
          {music ? (
            <>
              <label htmlFor="music-volume">Music volume: {Math.round((form.music_volume ?? 0.35) * 100)}%</label>
              <input id="music-volume" type="range" min={0} max={1} step={0.05} value={form.music_volume}
                onChange={(e) => set("music_volume", Number(e.target.value))} aria-describedby={described("music_volume")} />
              <FieldError id="music_volume-error" message={fields.music_volume} />
            </>
          ) : null}
        </fieldset>

        <label htmlFor="reference">Reference image <span className="muted">(optional: PNG, JPEG or WebP)</span></label>
        <input id="reference" type="file" accept="image/png,image/jpeg,image/webp"
          onChange={(e) => { setFile(e.target.files?.[0] ?? null); setUploadPct(null); }} />
        {uploadPct !== null ? <ProgressBar value={uploadPct} label="Reference image upload" id="upload-progress" /> : null}
        <FieldError id="inputs-error" message={fields["inputs.reference_image_upload_id"]} />

        <EstimatePanel body={describesVideo(form) ? jobRequest(form) : null} />
        {Object.keys(fields).length ? <p className="error" role="alert">Please fix the fields marked above.</p>
          : short ? (
            <p className="error" role="alert" data-testid="credits-exhausted">
              Not enough credits: this video needs {dollars(short.needed)} and you have {dollars(short.available)} available.{" "}
              <Link to="/billing">Add credits or upgrade</Link>
            </p>
          ) : <ErrorMessage error={submit.error} />}
        <button type="submit" className="primary" disabled={submit.isPending}>
          {submit.isPending ? "Submitting…" : "Make the video"}
        </button>
      </form>
    </>
  );
}
