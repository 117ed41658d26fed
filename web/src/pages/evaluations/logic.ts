// The Evaluations pages' pure logic (logic.test.ts): job states and their summaries, the list's
// filters in the URL, the submit form turned into a request (and pasted JSON recognised as
// either request shape), the field a 400 names, leaderboard sorting and champion deltas, and
// the security view's heat-map colours.
import type { BoardBenchmark, BoardRow, EvalBenchmark, EvalJob, EvalJobState, JobFilter, ParamSpec, Provider } from "./api";

export const EVAL_STATES: EvalJobState[] = ["pending", "running", "completed", "partially_failed", "failed", "cancelled"];
export const LIVE_MS = 2000;

/** The badge class of a job or benchmark state (theme.css colours). */
export function stateTone(state: string): string {
  switch (state) {
    case "completed":
      return "FINISHED";
    case "running":
      return "RUNNING";
    case "failed":
      return "FAILED";
    case "cancelled":
      return "KILLED";
    case "partially_failed":
      return "PARTIAL";
    default:
      return "";
  }
}

export function stateLabel(state: string): string {
  return state === "partially_failed" ? "partially failed" : state;
}

export const isLive = (state: string) => state === "pending" || state === "running";

/** Whether a list still changes: any job pending or running. */
export function anyLive(jobs: { state: string }[]): boolean {
  return jobs.some((j) => isLive(j.state));
}

/** "2 running · 1 completed": the jobs counted by state, in the states' order. */
export function stateSummary(jobs: { state: string }[]): string {
  const counts = new Map<string, number>();
  for (const j of jobs) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
  const order = [...EVAL_STATES, ...[...counts.keys()].filter((s) => !(EVAL_STATES as string[]).includes(s))];
  return order
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${stateLabel(s)}`)
    .join(" · ");
}

/** How far one benchmark is, 0..1, or null when it runs without telling (an indeterminate bar). */
export function benchmarkProgress(b: Pick<EvalBenchmark, "state" | "progress">): number | null {
  if (b.state === "completed" || b.state === "failed" || b.state === "cancelled") return 1;
  if (b.state === "pending") return 0;
  if (b.progress == null || !Number.isFinite(b.progress)) return null;
  return Math.min(1, Math.max(0, b.progress));
}

/** A job's benchmarks done (in any terminal state) of all: "2 of 3". */
export function jobProgress(job: Pick<EvalJob, "benchmarks">): { done: number; total: number } {
  const done = job.benchmarks.filter((b) => !isLive(b.state)).length;
  return { done, total: job.benchmarks.length };
}

/** The model as a person reads it: the registered version when there is one. */
export function modelLabel(m: { name?: string; model_name?: string; registered_name: string | null; registered_version: number | null }): string {
  if (m.registered_name) return m.registered_version != null ? `${m.registered_name} v${m.registered_version}` : m.registered_name;
  return m.name ?? m.model_name ?? "";
}

// ------------------------------------------------------------------------ list filters

/** The list's filters from the URL: an unknown state and blank values are left out. */
export function filterFromSearch(search: URLSearchParams): JobFilter {
  const out: JobFilter = {};
  const state = search.get("state")?.trim();
  if (state && (EVAL_STATES as string[]).includes(state)) out.state = state as EvalJobState;
  const model = search.get("model")?.trim();
  if (model) out.model = model;
  const tag = search.get("tag")?.trim();
  if (tag) out.tag = tag;
  return out;
}

export function searchFromFilter(f: JobFilter): URLSearchParams {
  const out = new URLSearchParams();
  if (f.state) out.set("state", f.state);
  if (f.model?.trim()) out.set("model", f.model.trim());
  if (f.tag?.trim()) out.set("tag", f.tag.trim());
  return out;
}

// ---------------------------------------------------------------------- the submit form

export interface FormBenchmark {
  provider_id: string;
  benchmark_id: string;
  /** Parameter values as typed, by name ("" = not given). */
  config: Record<string, string>;
  /** Optional: weight in the overall score, the primary metric (and its direction) when the
   * provider names none, a pass threshold ("" = not given). */
  weight?: string;
  metric?: string;
  lowerIsBetter?: boolean;
  threshold?: string;
}

export interface EvalForm {
  model: string;
  server: string;
  url: string;
  /** The model configuration as a JSON object ("" = none). */
  configuration: string;
  source: "benchmarks" | "collection";
  benchmarks: FormBenchmark[];
  collection: string;
  experiment: string;
  /** One `key=value` a line. */
  tags: string;
}

export const emptyForm = (): EvalForm => ({
  model: "",
  server: "",
  url: "",
  configuration: "",
  source: "benchmarks",
  benchmarks: [{ provider_id: "", benchmark_id: "", config: {} }],
  collection: "",
  experiment: "",
  tags: "",
});

/** A form mistake, named by the request field it concerns (as the server's 400s do). */
export class FormError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** One parameter value as its spec's type wants it; undefined for a blank optional one. */
export function paramValue(raw: string, spec: ParamSpec | undefined, field: string): unknown {
  const text = raw.trim();
  if (!text) {
    if (spec?.required) throw new FormError(field, "is required");
    return undefined;
  }
  switch (spec?.type) {
    case "int": {
      if (!/^[-+]?\d+$/.test(text)) throw new FormError(field, `must be a whole number, got ${JSON.stringify(text)}`);
      return Number(text);
    }
    case "float": {
      const n = Number(text);
      if (!Number.isFinite(n)) throw new FormError(field, `must be a number, got ${JSON.stringify(text)}`);
      return n;
    }
    case "bool": {
      const t = text.toLowerCase();
      if (t === "true" || t === "false") return t === "true";
      throw new FormError(field, "must be true or false");
    }
    case "list":
    case "object": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        if (spec.type === "list") return text.split(",").map((s) => s.trim()).filter(Boolean);
        throw new FormError(field, "must be a JSON object");
      }
      const ok = spec.type === "list" ? Array.isArray(parsed) : parsed !== null && typeof parsed === "object" && !Array.isArray(parsed);
      if (!ok) throw new FormError(field, `must be a JSON ${spec.type === "list" ? "list" : "object"}`);
      return parsed;
    }
    default:
      return text;
  }
}

/** `key=value` lines → a tag object; a line without `=` names its line. */
export function parseTags(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (!t) return;
    const at = t.indexOf("=");
    if (at <= 0) throw new FormError("experiment.tags", `line ${i + 1} is not key=value`);
    out[t.slice(0, at).trim()] = t.slice(at + 1).trim();
  });
  return out;
}

/** The form as a request of the seed's shape (POST /api/v1/evaluations). */
export function formToRequest(form: EvalForm, providers: Provider[]): Record<string, unknown> {
  const name = form.model.trim();
  if (!name) throw new FormError("model.name", "is required");
  const model: Record<string, unknown> = { name };
  if (form.server.trim()) model.server = form.server.trim();
  if (form.url.trim()) model.url = form.url.trim();
  if (form.configuration.trim()) {
    let conf: unknown;
    try {
      conf = JSON.parse(form.configuration);
    } catch {
      throw new FormError("model.configuration", "must be a JSON object");
    }
    if (conf === null || typeof conf !== "object" || Array.isArray(conf)) throw new FormError("model.configuration", "must be a JSON object");
    model.configuration = conf;
  }
  const body: Record<string, unknown> = { model };
  if (form.source === "collection") {
    if (!form.collection.trim()) throw new FormError("collection", "choose a collection");
    body.collection = form.collection.trim();
  } else {
    if (form.benchmarks.length === 0) throw new FormError("benchmarks", "add at least one benchmark");
    body.benchmarks = form.benchmarks.map((b, i) => {
      if (!b.provider_id) throw new FormError(`benchmarks[${i}].provider_id`, "choose a provider");
      if (!b.benchmark_id.trim()) throw new FormError(`benchmarks[${i}].benchmark_id`, "choose a benchmark");
      const provider = providers.find((p) => p.id === b.provider_id);
      const info = provider?.benchmarks.find((x) => x.id === b.benchmark_id.trim());
      const config: Record<string, unknown> = {};
      const names = new Set([...Object.keys(info?.parameters ?? {}), ...Object.keys(b.config)]);
      for (const key of names) {
        const value = paramValue(b.config[key] ?? "", info?.parameters[key], `benchmarks[${i}].config.${key}`);
        if (value !== undefined) config[key] = value;
      }
      const out: Record<string, unknown> = { benchmark_id: b.benchmark_id.trim(), provider_id: b.provider_id, config };
      const weight = paramValue(b.weight ?? "", { type: "float" }, `benchmarks[${i}].weight`);
      if (weight !== undefined) {
        if ((weight as number) <= 0) throw new FormError(`benchmarks[${i}].weight`, "must be > 0");
        out.weight = weight;
      }
      const metric = b.metric?.trim();
      if (metric) out.primary_score = { metric, lower_is_better: Boolean(b.lowerIsBetter) };
      const threshold = paramValue(b.threshold ?? "", { type: "float" }, `benchmarks[${i}].pass_criteria.threshold`);
      if (threshold !== undefined) out.pass_criteria = { threshold };
      return out;
    });
  }
  const tags = parseTags(form.tags);
  if (form.experiment.trim() || Object.keys(tags).length) {
    const experiment: Record<string, unknown> = {};
    if (form.experiment.trim()) experiment.name = form.experiment.trim();
    if (Object.keys(tags).length) experiment.tags = tags;
    body.experiment = experiment;
  }
  return body;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Pasted JSON as a request: eval-hub's shape (benchmarks with `id`, a model `url` or
 * `parameters`, tags as a list of {key, value}) goes to /evaluations/jobs, the seed's to
 * /evaluations. */
export function parsePasted(text: string): { shape: "seed" | "evalhub"; body: Record<string, unknown> } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new FormError("request", `is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(body)) throw new FormError("request", "must be a JSON object");
  const benchmarks = Array.isArray(body.benchmarks) ? body.benchmarks : [];
  const model = isObject(body.model) ? body.model : {};
  const experiment = isObject(body.experiment) ? body.experiment : {};
  const evalhub =
    benchmarks.some((b) => isObject(b) && "id" in b && !("benchmark_id" in b)) ||
    "parameters" in model ||
    ("url" in model && !("server" in model)) ||
    Array.isArray(experiment.tags);
  return { shape: evalhub ? "evalhub" : "seed", body };
}

const FIELD_PATH = String.raw`[A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_][\w-]*)*`;

/** The request field a 400's message names, or null: a leading `benchmarks[1].provider_id:`,
 * or the quoted one of "Invalid value for field 'model.configuration': …", "Missing value for
 * required field 'x'", "Field 'x' is longer…", "Too many tags in 'experiment.tags'…". */
export function errorField(message: string): string | null {
  const lead = new RegExp(String.raw`^\s*(${FIELD_PATH})\s*:`).exec(message);
  if (lead) return lead[1];
  const quoted = new RegExp(String.raw`(?:[Ff]ield|in) '(${FIELD_PATH})'`).exec(message);
  return quoted ? quoted[1] : null;
}

/** Whether a form control for `field` should show the error naming `named`. */
export function fieldMatches(named: string | null, field: string): boolean {
  if (!named) return false;
  return named === field || named.startsWith(`${field}.`) || named.startsWith(`${field}[`);
}

// ------------------------------------------------------------------------- leaderboard

export type SortDir = "best" | "worst";

/** Rows sorted on one benchmark, best first (lowest when lower is better) or worst first;
 * rows without its score always last, the rest in their given order. */
export function sortBoard(rows: BoardRow[], bench: BoardBenchmark | undefined, dir: SortDir = "best"): BoardRow[] {
  if (!bench) return rows;
  const id = bench.benchmark_id;
  const sign = (bench.lower_is_better ? 1 : -1) * (dir === "best" ? 1 : -1);
  const scored = rows.filter((r) => r.scores[id] != null);
  const rest = rows.filter((r) => r.scores[id] == null);
  return [...scored.sort((a, b) => sign * (a.scores[id].score - b.scores[id].score)), ...rest];
}

/** A delta against the champion as good news, bad news or none (lower-is-better respected). */
export function deltaTone(delta: number | null | undefined, lowerIsBetter: boolean): "better" | "worse" | "same" | null {
  if (delta == null || !Number.isFinite(delta)) return null;
  if (Math.abs(delta) < 1e-12) return "same";
  return delta > 0 !== lowerIsBetter ? "better" : "worse";
}

export function formatDelta(delta: number | null | undefined): string {
  if (delta == null || !Number.isFinite(delta)) return "";
  const abs = Math.abs(delta);
  const text = abs >= 100 ? abs.toFixed(0) : abs >= 1 ? abs.toFixed(2) : abs.toPrecision(2);
  return `${delta > 0 ? "+" : delta < 0 ? "−" : "±"}${text}`;
}

export function formatScore(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return "—";
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 1000 ? v.toFixed(0) : abs >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

/** `a, b ,,c` → ["a", "b", "c"]. */
export function splitList(text: string | null | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

// ------------------------------------------------------------------------ security view

/** The heat-map cell of an attack success rate (0..1): green when no attack got through,
 * through amber to red when all did; grey for no data. Text stays readable on both ends. */
export function heatColor(rate: number | null | undefined): { background: string; color: string } {
  if (rate == null || !Number.isFinite(rate)) return { background: "var(--neutral-soft)", color: "var(--text-muted)" };
  const r = Math.min(1, Math.max(0, rate));
  const hue = Math.round(120 * (1 - r)); // 120 green → 0 red
  const lightness = Math.round(88 - 40 * r); // paler for safe cells, deeper for bad ones
  return { background: `hsl(${hue}, 70%, ${lightness}%)`, color: lightness < 60 ? "#ffffff" : "#1c2430" };
}

export function formatRate(rate: number | null | undefined): string {
  if (rate == null || !Number.isFinite(rate)) return "—";
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 2 : 1)}%`;
}

export interface SecurityPoint {
  /** "v3", or the run's model name when it is not a registered version. */
  label: string;
  version: number | null;
  time: number;
  run_id: string | null;
  detection_rate: number | null;
  vulnerability_rate: number | null;
  total_tests: number | null;
  /** Attack type → success rate (0..1). */
  rates: Record<string, number | null>;
}

export interface SecurityChange {
  text: string;
  time: number | null;
  tone: "better" | "worse" | "info";
}

export interface SecurityView {
  name: string;
  registered: boolean;
  points: SecurityPoint[];
  types: string[];
  changes: SecurityChange[];
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : null);
const ATTACK_ORDER = ["prompt_injection", "jailbreak", "system_extraction", "code_injection"];

/** Attack types in the seed's order, then others by name. */
export function orderTypes(types: Iterable<string>): string[] {
  const all = [...new Set(types)];
  return [...ATTACK_ORDER.filter((t) => all.includes(t)), ...all.filter((t) => !ATTACK_ORDER.includes(t)).sort()];
}

function pointOf(raw: Record<string, unknown>): SecurityPoint {
  const metrics = isObject(raw.metrics) ? raw.metrics : raw;
  const rates: Record<string, number | null> = {};
  const attacks = raw.per_type ?? raw.attack_types ?? raw.attacks ?? raw.success_rates;
  if (isObject(attacks)) {
    for (const [type, v] of Object.entries(attacks)) rates[type] = isObject(v) ? num(v.success_rate ?? v.rate) : num(v);
  } else if (Array.isArray(attacks)) {
    for (const a of attacks) if (isObject(a) && typeof (a.type ?? a.attack_type) === "string") rates[String(a.type ?? a.attack_type)] = num(a.success_rate ?? a.rate);
  }
  for (const [k, v] of Object.entries(metrics)) {
    const m = /^attack_(.+)_success_rate$/.exec(k);
    if (m && !(m[1] in rates)) rates[m[1]] = num(v);
  }
  const version = num(raw.version ?? raw.model_version ?? raw.registered_version);
  return {
    label: version != null ? `v${version}` : String(raw.label ?? raw.model_name ?? raw.run_name ?? raw.run_id ?? "run"),
    version,
    time: num(raw.time ?? raw.start_time ?? raw.timestamp ?? raw.logged_at) ?? 0,
    run_id: typeof raw.run_id === "string" ? raw.run_id : null,
    detection_rate: num(metrics.red_team_detection_rate ?? raw.detection_rate),
    vulnerability_rate: num(metrics.red_team_vulnerability_rate ?? raw.vulnerability_rate),
    total_tests: num(metrics.red_team_total_tests ?? raw.total ?? raw.total_tests),
    rates,
  };
}

/** What changed between consecutive points: an attack type that started or stopped getting
 * through, and detection-rate moves of at least `step` (0.05: five points). */
export function securityChanges(points: SecurityPoint[], types: string[], step = 0.05): SecurityChange[] {
  const out: SecurityChange[] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    for (const t of types) {
      const before = a.rates[t];
      const after = b.rates[t];
      if (before == null || after == null) continue;
      if (before === 0 && after > 0) out.push({ text: `${t} attacks got through in ${b.label} (${formatRate(after)}; none in ${a.label})`, time: b.time, tone: "worse" });
      else if (before > 0 && after === 0) out.push({ text: `${t} attacks stopped getting through in ${b.label} (${formatRate(before)} in ${a.label})`, time: b.time, tone: "better" });
    }
  }
  return [...out, ...detectionMoves(points, step)].sort((a, b) => (b.time ?? 0) - (a.time ?? 0)); // newest first
}

/** The trend endpoint's answer as the page draws it (points oldest first). Reads the points
 * from `points`, `runs`, `versions` or `trend`, and the server's own change list when it has
 * one, else works the changes out. */
export function securityView(name: string, raw: unknown): SecurityView {
  const body = isObject(raw) ? raw : {};
  const list = [body.points, body.runs, body.versions, body.trend, body.history].find(Array.isArray) as unknown[] | undefined;
  const points = (list ?? [])
    .filter(isObject)
    .map(pointOf)
    .sort((a, b) => a.time - b.time);
  const types = orderTypes(points.flatMap((p) => Object.keys(p.rates)));
  const given = [body.changes, body.what_changed].find(Array.isArray) as unknown[] | undefined;
  const changes = given ? [...serverChanges(given, points), ...detectionMoves(points)].sort((a, b) => (b.time ?? 0) - (a.time ?? 0)) : securityChanges(points, types);
  return { name: String(body.model_name ?? body.name ?? name), registered: points.some((p) => p.version != null), points, types, changes };
}

const where = (version: unknown, runId: unknown, points: SecurityPoint[]): string => {
  const v = num(version);
  if (v != null) return `v${v}`;
  const p = points.find((x) => x.run_id === runId);
  return p ? p.label : `run ${String(runId ?? "?").slice(0, 8)}`;
};

/** The server's changes (`{from_version, to_version, newly_through[], stopped[], time}`, or
 * plain `{text}` items) as lines, one per attack type. */
function serverChanges(given: unknown[], points: SecurityPoint[]): SecurityChange[] {
  const out: SecurityChange[] = [];
  for (const c of given) {
    if (!isObject(c)) {
      out.push({ text: String(c), time: null, tone: "info" });
      continue;
    }
    const time = num(c.time ?? c.at);
    if (Array.isArray(c.newly_through) || Array.isArray(c.stopped)) {
      const from = where(c.from_version, c.from_run_id, points);
      const to = where(c.to_version, c.to_run_id, points);
      for (const t of Array.isArray(c.newly_through) ? c.newly_through : []) out.push({ text: `${String(t)} attacks got through in ${to} (none in ${from})`, time, tone: "worse" });
      for (const t of Array.isArray(c.stopped) ? c.stopped : []) out.push({ text: `${String(t)} attacks stopped getting through in ${to} (they did in ${from})`, time, tone: "better" });
    } else {
      out.push({ text: String(c.text ?? c.message ?? c.description ?? JSON.stringify(c)), time, tone: c.tone === "better" || c.tone === "worse" ? c.tone : "info" });
    }
  }
  return out;
}

/** Detection-rate moves of at least `step` between consecutive points. */
export function detectionMoves(points: SecurityPoint[], step = 0.05): SecurityChange[] {
  const out: SecurityChange[] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (a.detection_rate == null || b.detection_rate == null || Math.abs(b.detection_rate - a.detection_rate) < step) continue;
    const up = b.detection_rate > a.detection_rate;
    out.push({ text: `detection rate ${up ? "rose" : "fell"} from ${formatRate(a.detection_rate)} to ${formatRate(b.detection_rate)} in ${b.label}`, time: b.time, tone: up ? "better" : "worse" });
  }
  return out;
}

/** The heat map's columns: the newest result of each version (in version order), or every run
 * of a model that is only a name. */
export function heatColumns(points: SecurityPoint[]): SecurityPoint[] {
  if (!points.some((p) => p.version != null)) return points;
  const newest = new Map<string, SecurityPoint>();
  for (const p of points) {
    const key = p.version != null ? `v${p.version}` : `run:${p.run_id}`;
    const known = newest.get(key);
    if (!known || p.time >= known.time) newest.set(key, p);
  }
  return [...newest.values()].sort((a, b) => (a.version ?? Infinity) - (b.version ?? Infinity) || a.time - b.time);
}

/** The trend chart's x labels: the version (`v2`, then `v2 (2)` for its next run), or the
 * run's date and time for a model that is only a name. */
export function trendLabels(points: SecurityPoint[]): string[] {
  const seen = new Map<string, number>();
  return points.map((p) => {
    if (p.version == null) return p.time ? new Date(p.time).toISOString().slice(5, 16).replace("T", " ") : p.label;
    const n = (seen.get(p.label) ?? 0) + 1;
    seen.set(p.label, n);
    return n === 1 ? p.label : `${p.label} (${n})`;
  });
}
