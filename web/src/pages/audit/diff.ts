// An event's before → after as rows a person reads: nested metadata flattened into dotted
// keys (`tags.team`), each key added, removed or changed, values as short text.
import { formatTimestamp } from "../../lib/format";

export type DiffKind = "added" | "removed" | "changed" | "same";

export interface DiffRow {
  key: string;
  kind: DiffKind;
  before?: string;
  after?: string;
}

const MAX_DEPTH = 3;

/** A value as text: strings as they are, numbers and booleans plainly, lists comma-separated
 * when they hold only scalars, anything else as compact JSON; null is "—". */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.length > 0 && value.every(isRule)) {
    return value.map((r) => `${r.kind} ${r.key} ${r.op ?? "="} ${showValue(r.value)}`).join("; ");
  }
  if (Array.isArray(value) && value.every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))) {
    return `[${value.map((v) => (typeof v === "string" ? v : String(v))).join(", ")}]`;
  }
  return JSON.stringify(value);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A promotion policy's evidence rule: `{kind: "tag"|"metric", key, op?, value}`. */
function isRule(v: unknown): v is { kind: string; key: string; op?: string; value: unknown } {
  return isPlainObject(v) && (v.kind === "tag" || v.kind === "metric") && typeof v.key === "string";
}

const TIME_KEY = /(^|[._])(time|timestamp|[a-z]+_time|[a-z]+_timestamp|[a-z]+_at)$/;

/** A field's value as text: times in ms (`start_time`, `end_time`, `*_at`…) as local date and
 * time, the rest as {@link showValue}. */
export function showField(key: string, value: unknown): string {
  if (typeof value === "number" && value > 1e11 && TIME_KEY.test(key)) return formatTimestamp(value);
  return showValue(value);
}

/** A log-batch's metric summary (`{keys, count, steps: [min, max]}`) as one phrase:
 * "3 points of loss, acc at steps 0–9"; anything else unchanged. */
export function metricSummary(v: unknown): unknown {
  if (!isPlainObject(v) || !Array.isArray(v.keys) || typeof v.count !== "number") return v;
  const steps = Array.isArray(v.steps) && v.steps.length === 2 ? (v.steps[0] === v.steps[1] ? ` at step ${v.steps[0]}` : ` at steps ${v.steps[0]}–${v.steps[1]}`) : "";
  return `${v.count} point${v.count === 1 ? "" : "s"} of ${v.keys.join(", ")}${steps}`;
}

/** `{tags: {a: "1"}, status: "X"}` as `{"tags.a": "1", "status": "X"}` (objects deeper than
 * three levels, and empty objects, stay one value). */
export function flatten(value: Record<string, unknown> | null | undefined, prefix = "", depth = 0, out: Map<string, unknown> = new Map()): Map<string, unknown> {
  if (!value) return out;
  for (let [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key === "metrics") v = metricSummary(v);
    if (isPlainObject(v) && Object.keys(v).length > 0 && depth < MAX_DEPTH - 1) flatten(v, key, depth + 1, out);
    else out.set(key, v);
  }
  return out;
}

/** The rows of an event's change, in key order. A key only in `after` (or null before) is
 * added (a creation, a new tag, an end time set), only in `before` (or null after) removed (a
 * deleted tag, a cleared field); in both, changed, or "same" when the values are equal (an
 * event that restated a value). */
export function diffRows(before: Record<string, unknown> | null | undefined, after: Record<string, unknown> | null | undefined): DiffRow[] {
  const b = flatten(before);
  const a = flatten(after);
  const keys = [...new Set([...b.keys(), ...a.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return keys.map((key) => {
    const inB = b.has(key) && b.get(key) != null;
    const inA = a.has(key) && a.get(key) != null;
    if (inB && !inA) return { key, kind: "removed", before: showField(key, b.get(key)) };
    if (!inB && inA) return { key, kind: "added", after: showField(key, a.get(key)) };
    const bv = showField(key, b.get(key));
    const av = showField(key, a.get(key));
    return { key, kind: bv === av ? "same" : "changed", before: bv, after: av };
  });
}

/** A long value shortened for the timeline (the whole text goes in its title). */
export function shorten(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `run.set_tag` → "set tag" (with its entity named apart: the panel knows it). */
export function actionVerb(action: string): string {
  const dot = action.indexOf(".");
  return (dot >= 0 ? action.slice(dot + 1) : action).replace(/_/g, " ");
}
