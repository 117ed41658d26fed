// /evaluations/new — submit an evaluation: from a form (model, benchmarks chosen from the
// providers with their parameters, or a collection; experiment name and tags) or as pasted
// JSON in either request shape (the seed's → POST /evaluations, eval-hub's → POST
// /evaluations/jobs). A 400 names the field; the form marks it.
import { useState, type ReactNode } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { ApiError } from "../../api/http";
import { listCollections, listProviders, submitEvaluation, type EvalJob, type Provider } from "./api";
import { emptyForm, errorField, fieldMatches, FormError, formToRequest, parsePasted, type EvalForm, type FormBenchmark } from "./logic";
import { EvalNav } from "./widgets";
import "../../viz/pages.css";
import "./evaluations.css";

const EXAMPLE = `{
  "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b", "configuration": {"temperature": 0.1}},
  "benchmarks": [{"benchmark_id": "arc_easy", "provider_id": "lm_evaluation_harness", "config": {"num_fewshot": 0, "limit": 100}}],
  "experiment": {"name": "llama-eval", "tags": {"team": "research"}}
}`;

function Field({ label, field, named, message, wide, children }: { label: string; field: string; named: string | null; message: string | null; wide?: boolean; children: ReactNode }) {
  const bad = fieldMatches(named, field);
  return (
    <label className={`field${bad ? " invalid" : ""}${wide ? " wide" : ""}`} data-field={field}>
      <span>{label}</span>
      {children}
      {bad && message && (
        <span className="field-error" data-testid="field-error">
          {message}
        </span>
      )}
    </label>
  );
}

export function NewEvaluationPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const providers = useQuery({ queryKey: ["eval-providers"], queryFn: ({ signal }) => listProviders(signal), retry: false });
  const collections = useQuery({ queryKey: ["eval-collections"], queryFn: ({ signal }) => listCollections(signal), retry: false });
  const [mode, setMode] = useState<"form" | "json">("form");
  const [form, setForm] = useState<EvalForm>(() => ({ ...emptyForm(), model: params.get("model") ?? "" }));
  const [json, setJson] = useState(EXAMPLE);
  const [problem, setProblem] = useState<{ field: string | null; message: string } | null>(null);
  const [token, setToken] = useState<EvalJob | null>(null);
  const list: Provider[] = providers.data?.providers ?? [];

  const submit = useMutation({
    mutationFn: ({ shape, body }: { shape: "seed" | "evalhub"; body: unknown }) => submitEvaluation(shape, body),
    onSuccess: (job) => {
      if (job.runner_token) setToken(job); // shown once: stay here until it is copied
      else navigate(`/evaluations/jobs/${encodeURIComponent(job.id)}`);
    },
    onError: (err) => {
      const message = err instanceof Error ? err.message : String(err);
      setProblem({ field: err instanceof ApiError ? errorField(message) : null, message });
    },
  });

  const send = () => {
    setProblem(null);
    try {
      if (mode === "json") submit.mutate(parsePasted(json));
      else submit.mutate({ shape: "seed", body: formToRequest(form, list) });
    } catch (err) {
      if (err instanceof FormError) setProblem({ field: err.field, message: err.message });
      else throw err;
    }
  };

  // an edit answers the last mistake: its message goes until the next submit
  const set = (patch: Partial<EvalForm>) => {
    setProblem(null);
    setForm((f) => ({ ...f, ...patch }));
  };
  const setBench = (i: number, patch: Partial<FormBenchmark>) => set({ benchmarks: form.benchmarks.map((b, k) => (k === i ? { ...b, ...patch } : b)) });
  const named = problem?.field ?? null;
  const msg = problem?.message ?? null;

  if (token) {
    return (
      <div className="page" data-testid="eval-new-page">
        <div className="page-head">
          <h1>Evaluation submitted</h1>
        </div>
        <div className="card box">
          <p>
            Job <span className="mono">{token.id}</span> waits for an external runner. Its runner token is shown only now: the runner sends it as <code>Authorization: Bearer …</code> to{" "}
            <code>POST /api/v1/evaluations/jobs/{token.id}/events</code>.
          </p>
          <pre className="eval-logs" data-testid="eval-runner-token">
            {token.runner_token}
          </pre>
          <p>
            <Link to={`/evaluations/jobs/${encodeURIComponent(token.id)}`} className="btn primary">
              Open the job
            </Link>
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="page" data-testid="eval-new-page">
      <div className="page-head">
        <h1>New evaluation</h1>
        <EvalNav />
      </div>
      <div className="eval-tabs" role="group" aria-label="How to describe the request" style={{ marginBottom: 12 }}>
        <button type="button" className="btn small" aria-pressed={mode === "form"} onClick={() => setMode("form")} data-testid="eval-mode-form">
          Form
        </button>
        <button type="button" className="btn small" aria-pressed={mode === "json"} onClick={() => setMode("json")} data-testid="eval-mode-json">
          Paste JSON
        </button>
      </div>
      <ErrorText error={providers.error} />
      <form
        className="eval-form"
        aria-label="Evaluation request"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        {mode === "json" ? (
          <fieldset>
            <legend>Request</legend>
            <Field label="The seed's shape (model.server, benchmarks[].benchmark_id, tags as an object) or eval-hub's (model.url, benchmarks[].id, tags as a list)" field="request" named={named} message={msg} wide>
              <textarea className="input" rows={16} value={json} onChange={(e) => (setProblem(null), setJson(e.target.value))} spellCheck={false} data-testid="eval-json" />
            </Field>
          </fieldset>
        ) : (
          <>
            <fieldset>
              <legend>Model</legend>
              <Field label="Name (or models:/name/version, models:/name@alias)" field="model.name" named={named} message={msg}>
                <input className="input" value={form.model} onChange={(e) => set({ model: e.target.value })} placeholder="models:/classifier/3" data-testid="eval-model" />
              </Field>
              <Field label="Server (vllm, tgi…)" field="model.server" named={named} message={msg}>
                <input className="input" value={form.server} onChange={(e) => set({ server: e.target.value })} data-testid="eval-server" />
              </Field>
              <Field label="URL (an OpenAI-compatible endpoint)" field="model.url" named={named} message={msg}>
                <input className="input" value={form.url} onChange={(e) => set({ url: e.target.value })} placeholder="http://127.0.0.1:8000/v1" data-testid="eval-url" />
              </Field>
              <Field label="Configuration (JSON object)" field="model.configuration" named={named} message={msg} wide>
                <textarea className="input" rows={2} value={form.configuration} onChange={(e) => set({ configuration: e.target.value })} placeholder='{"temperature": 0.1}' data-testid="eval-configuration" />
              </Field>
            </fieldset>
            <fieldset>
              <legend>What to run</legend>
              <div className="eval-tabs wide" role="group" aria-label="Benchmarks or a collection">
                <button type="button" className="btn small" aria-pressed={form.source === "benchmarks"} onClick={() => set({ source: "benchmarks" })} data-testid="eval-source-benchmarks">
                  Benchmarks
                </button>
                <button type="button" className="btn small" aria-pressed={form.source === "collection"} onClick={() => set({ source: "collection" })} data-testid="eval-source-collection">
                  A collection
                </button>
              </div>
              {form.source === "collection" ? (
                <Field label="Collection" field="collection" named={named} message={msg} wide>
                  <select className="input" value={form.collection} onChange={(e) => set({ collection: e.target.value })} data-testid="eval-collection">
                    <option value="">choose…</option>
                    {(collections.data?.collections ?? []).map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.name} ({c.benchmarks.length} benchmarks{c.shipped ? ", shipped" : ""})
                      </option>
                    ))}
                  </select>
                </Field>
              ) : (
                <>
                  {form.benchmarks.map((b, i) => (
                    <BenchmarkCard key={i} index={i} b={b} providers={list} named={named} message={msg} onChange={(patch) => setBench(i, patch)} onRemove={form.benchmarks.length > 1 ? () => set({ benchmarks: form.benchmarks.filter((_, k) => k !== i) }) : undefined} />
                  ))}
                  <div className="wide">
                    <button type="button" className="btn small" onClick={() => set({ benchmarks: [...form.benchmarks, { provider_id: "", benchmark_id: "", config: {} }] })} data-testid="eval-add-benchmark">
                      + Add a benchmark
                    </button>
                  </div>
                </>
              )}
            </fieldset>
            <fieldset>
              <legend>Experiment</legend>
              <Field label="Name (letters, digits, _ - .; the prefix is added)" field="experiment.name" named={named} message={msg}>
                <input className="input" value={form.experiment} onChange={(e) => set({ experiment: e.target.value })} placeholder="llama-eval" data-testid="eval-experiment" />
              </Field>
              <Field label="Tags (key=value, one a line)" field="experiment.tags" named={named} message={msg}>
                <textarea className="input" rows={2} value={form.tags} onChange={(e) => set({ tags: e.target.value })} placeholder="team=research" data-testid="eval-tags" />
              </Field>
            </fieldset>
          </>
        )}
        {problem && (
          <div className="error-box" role="alert" data-testid="eval-submit-error">
            {problem.message}
          </div>
        )}
        <div className="form-row">
          <button type="submit" className="btn primary" disabled={submit.isPending} data-testid="eval-submit">
            {submit.isPending ? "Submitting…" : "Submit"}
          </button>
          <Link to="/evaluations" className="btn ghost">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  );
}

function BenchmarkCard({
  index,
  b,
  providers,
  named,
  message,
  onChange,
  onRemove,
}: {
  index: number;
  b: FormBenchmark;
  providers: Provider[];
  named: string | null;
  message: string | null;
  onChange: (patch: Partial<FormBenchmark>) => void;
  onRemove?: () => void;
}) {
  const provider = providers.find((p) => p.id === b.provider_id);
  const info = provider?.benchmarks.find((x) => x.id === b.benchmark_id);
  const openEnded = provider?.benchmarks.some((x) => x.open_ended) ?? false;
  const prefix = `benchmarks[${index}]`;
  return (
    <div className="eval-bench-card" data-testid="eval-benchmark-card">
      <div className="head">
        <strong>Benchmark {index + 1}</strong>
        {onRemove && (
          <button type="button" className="btn ghost small" onClick={onRemove} aria-label={`Remove benchmark ${index + 1}`}>
            Remove
          </button>
        )}
      </div>
      <Field label="Provider" field={`${prefix}.provider_id`} named={named} message={message}>
        <select className="input" value={b.provider_id} onChange={(e) => onChange({ provider_id: e.target.value, benchmark_id: "", config: {} })} data-testid="eval-provider">
          <option value="">choose…</option>
          {providers.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name || p.id}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Benchmark" field={`${prefix}.benchmark_id`} named={named} message={message}>
        {provider && (provider.benchmarks.length === 0 || openEnded) ? (
          <>
            <input className="input" list={`benchmarks-${index}`} value={b.benchmark_id} onChange={(e) => onChange({ benchmark_id: e.target.value })} placeholder="task or benchmark id" data-testid="eval-benchmark" />
            <datalist id={`benchmarks-${index}`}>
              {provider.benchmarks.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </datalist>
          </>
        ) : (
          <select className="input" value={b.benchmark_id} onChange={(e) => onChange({ benchmark_id: e.target.value, config: {} })} disabled={!provider} data-testid="eval-benchmark">
            <option value="">choose…</option>
            {(provider?.benchmarks ?? []).map((x) => (
              <option key={x.id} value={x.id}>
                {x.name || x.id}
              </option>
            ))}
          </select>
        )}
      </Field>
      {info?.description && <p className="muted wide" style={{ margin: 0, fontSize: 12, gridColumn: "1 / -1" }}>{info.description}</p>}
      {Object.entries(info?.parameters ?? {}).map(([key, spec]) => (
        <Field key={key} label={`${key}${spec.required ? " *" : ""} (${spec.type})`} field={`${prefix}.config.${key}`} named={named} message={message}>
          <input
            className="input"
            value={b.config[key] ?? ""}
            placeholder={spec.default == null ? "" : typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default)}
            onChange={(e) => onChange({ config: { ...b.config, [key]: e.target.value } })}
            data-testid={`eval-param-${key}`}
          />
          {spec.description && <span className="param-help">{spec.description}</span>}
        </Field>
      ))}
      <Field label={`Primary metric${info?.primary_metric ? ` (default ${info.primary_metric})` : ""}`} field={`${prefix}.primary_score`} named={named} message={message}>
        <input className="input" value={b.metric ?? ""} onChange={(e) => onChange({ metric: e.target.value })} placeholder={info?.primary_metric || "the score the leaderboard uses"} data-testid="eval-metric" />
      </Field>
      <label className="field">
        <span>Lower is better</span>
        <input type="checkbox" checked={Boolean(b.lowerIsBetter)} onChange={(e) => onChange({ lowerIsBetter: e.target.checked })} disabled={!b.metric?.trim()} data-testid="eval-lower" style={{ alignSelf: "flex-start" }} />
      </label>
      <Field label="Weight" field={`${prefix}.weight`} named={named} message={message}>
        <input className="input" value={b.weight ?? ""} onChange={(e) => onChange({ weight: e.target.value })} placeholder="1" data-testid="eval-weight" />
      </Field>
      <Field label="Pass threshold" field={`${prefix}.pass_criteria`} named={named} message={message}>
        <input className="input" value={b.threshold ?? ""} onChange={(e) => onChange({ threshold: e.target.value })} placeholder="none" data-testid="eval-threshold" />
      </Field>
    </div>
  );
}
