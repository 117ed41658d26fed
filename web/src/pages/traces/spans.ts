// Turning MLflow's trace JSON (GET /traces/get: OTLP-shaped spans with base64 ids and typed
// attribute values) into what the trace page draws: a span tree in start order and each
// span's place on the trace's timeline.
import { formatDuration } from "../../lib/format";

export interface AnyValue {
  string_value?: string;
  bool_value?: boolean;
  int_value?: number | string;
  double_value?: number;
  array_value?: { values?: AnyValue[] };
  kvlist_value?: { values?: { key: string; value: AnyValue }[] };
  bytes_value?: string;
}

export interface WireSpan {
  span_id: string;
  parent_span_id?: string;
  name: string;
  start_time_unix_nano: number | string;
  end_time_unix_nano?: number | string;
  attributes?: { key: string; value: AnyValue }[];
  events?: { name: string; time_unix_nano: number | string; attributes?: { key: string; value: AnyValue }[] }[];
  status?: { code?: string; message?: string };
}

export interface SpanEvent {
  name: string;
  /** ms after the trace's start */
  at: number;
  attributes: Record<string, unknown>;
}

export interface SpanNode {
  id: string;
  parentId: string | null;
  name: string;
  type: string;
  status: string;
  statusMessage: string;
  depth: number;
  /** ms after the trace's first span started */
  offset: number;
  /** ms, null while the span has not ended */
  duration: number | null;
  inputs: unknown;
  outputs: unknown;
  /** attributes other than MLflow's inputs, outputs and type */
  attributes: Record<string, unknown>;
  events: SpanEvent[];
  children: SpanNode[];
}

/** A span attribute's value as plain JSON. */
export function plainValue(v: AnyValue | undefined): unknown {
  if (!v) return null;
  if (v.string_value !== undefined) return v.string_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.int_value !== undefined) return Number(v.int_value);
  if (v.double_value !== undefined) return v.double_value;
  if (v.array_value) return (v.array_value.values ?? []).map(plainValue);
  if (v.kvlist_value) return Object.fromEntries((v.kvlist_value.values ?? []).map((kv) => [kv.key, plainValue(kv.value)]));
  if (v.bytes_value !== undefined) return v.bytes_value;
  return null;
}

/** MLflow keeps span inputs, outputs and type as JSON text: the parsed value, or the text. */
function unjson(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function attributes(list: { key: string; value: AnyValue }[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = plainValue(kv.value);
  return out;
}

const INPUTS = "mlflow.spanInputs";
const OUTPUTS = "mlflow.spanOutputs";
const TYPE = "mlflow.spanType";
const HIDDEN = new Set([INPUTS, OUTPUTS, TYPE, "mlflow.traceRequestId"]);

/** STATUS_CODE_OK → OK, STATUS_CODE_ERROR → ERROR, otherwise UNSET. */
export function spanStatus(code: string | undefined): string {
  return (code ?? "").replace(/^STATUS_CODE_/, "") || "UNSET";
}

/** A time in ns, exact (a JSON number past 2^53 has already lost its last digits; a string
 * keeps them). */
function ns(v: number | string | undefined): bigint | null {
  if (v === undefined || v === null || v === "") return null;
  try {
    return typeof v === "string" ? BigInt(v) : BigInt(Math.round(v));
  } catch {
    return null;
  }
}

/** ms from `from` to `to`, to the µs. */
function msBetween(from: bigint, to: bigint): number {
  return Math.round(Number(to - from) / 1000) / 1000;
}

export interface SpanTree {
  roots: SpanNode[];
  /** every span, depth first in start order (the order of the tree's rows) */
  rows: SpanNode[];
  /** ms from the first span's start to the last span's end */
  total: number;
}

/** The spans as a tree: children under their parent in start order; a span whose parent is
 * not in the trace becomes a root. Offsets and durations are ms from the earliest start. */
export function buildSpanTree(spans: WireSpan[]): SpanTree {
  if (spans.length === 0) return { roots: [], rows: [], total: 0 };
  const starts = spans.map((s) => ns(s.start_time_unix_nano) ?? BigInt(0));
  let t0 = starts[0];
  let tEnd = starts[0];
  for (const t of starts) {
    if (t < t0) t0 = t;
    if (t > tEnd) tEnd = t;
  }
  const byId = new Map<string, SpanNode>();
  const nodes: SpanNode[] = spans.map((s, i) => {
    const attrs = attributes(s.attributes);
    const end = ns(s.end_time_unix_nano);
    if (end !== null && end > tEnd) tEnd = end;
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(attrs)) if (!HIDDEN.has(k)) rest[k] = v;
    const type = unjson(attrs[TYPE]); // MLflow's default "UNKNOWN" says nothing: left out
    const node: SpanNode = {
      id: s.span_id,
      parentId: s.parent_span_id || null,
      name: s.name,
      type: typeof type === "string" && type !== "UNKNOWN" ? type : "",
      status: spanStatus(s.status?.code),
      statusMessage: s.status?.message ?? "",
      depth: 0,
      offset: msBetween(t0, starts[i]),
      duration: end === null ? null : msBetween(starts[i], end),
      inputs: INPUTS in attrs ? unjson(attrs[INPUTS]) : undefined,
      outputs: OUTPUTS in attrs ? unjson(attrs[OUTPUTS]) : undefined,
      attributes: rest,
      events: (s.events ?? []).map((e) => ({ name: e.name, at: msBetween(t0, ns(e.time_unix_nano) ?? t0), attributes: attributes(e.attributes) })),
      children: [],
    };
    byId.set(node.id, node);
    return node;
  });
  const roots: SpanNode[] = [];
  for (const n of nodes) {
    const parent = n.parentId && n.parentId !== n.id ? byId.get(n.parentId) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.offset - b.offset || a.name.localeCompare(b.name);
  const rows: SpanNode[] = [];
  const seen = new Set<string>();
  // iterative depth-first walk (a cycle in bad data cannot loop: each span is visited once)
  const stack: SpanNode[] = [...roots].sort(byStart).reverse();
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    rows.push(n);
    n.children.sort(byStart);
    for (let i = n.children.length - 1; i >= 0; i--) {
      n.children[i].depth = n.depth + 1;
      stack.push(n.children[i]);
    }
  }
  roots.sort(byStart);
  return { roots, rows, total: msBetween(t0, tEnd) };
}

/** A span's bar on the timeline, as percentages of the trace's width (at least 0.5% wide, so
 * that an instant span stays visible). */
export function timelineBar(node: SpanNode, total: number): { left: number; width: number } {
  if (total <= 0) return { left: 0, width: 100 };
  const left = Math.min(100, (node.offset / total) * 100);
  const width = node.duration === null ? 100 - left : (node.duration / total) * 100;
  return { left, width: Math.max(0.5, Math.min(width, 100 - left)) };
}

/** Token counts from the trace's `mlflow.trace.tokenUsage` metadata, when present. */
export function tokenUsage(metadata: Record<string, string> | undefined): { input?: number; output?: number; total?: number } | null {
  const raw = metadata?.["mlflow.trace.tokenUsage"];
  if (!raw) return null;
  try {
    const u = JSON.parse(raw) as Record<string, unknown>;
    const num = (k: string) => (typeof u[k] === "number" ? (u[k] as number) : undefined);
    const out = { input: num("input_tokens"), output: num("output_tokens"), total: num("total_tokens") };
    return out.input === undefined && out.output === undefined && out.total === undefined ? null : out;
  } catch {
    return null;
  }
}

/** A span's duration or offset: "0.21ms" under a millisecond (spans are often that short),
 * else as other durations ("280ms", "1.2s"). */
export function spanTime(ms: number | null): string {
  if (ms === null) return "…";
  if (ms < 1) return `${ms === 0 ? 0 : ms.toFixed(2)}ms`;
  return formatDuration(ms);
}

/** "0.046s" (protobuf's Duration in JSON) as ms. */
export function durationMs(v: string | undefined): number | null {
  if (!v || !v.endsWith("s")) return null;
  const n = Number(v.slice(0, -1));
  return Number.isFinite(n) ? Math.round(n * 1000) : null;
}
