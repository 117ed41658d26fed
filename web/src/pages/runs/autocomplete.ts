// Key completion for the filter box: while the user types a key of the search language
// ("metrics.lo", "par", "tags.`my t"), offer the prefixes and the keys of the loaded runs.

import { quoteKey } from "./columns";

export interface KnownKeys {
  params: string[];
  metrics: string[];
  tags: string[];
}

export interface Suggestion {
  label: string; // what the list shows
  value: string; // what replaces the typed token
  detail: string; // "param", "metric", …
  complete: boolean; // a whole key (add a space after it), or a prefix to keep typing
}

export interface Completion {
  start: number;
  end: number;
  suggestions: Suggestion[];
}

export const RUN_ATTRIBUTES = ["run_id", "run_name", "status", "user_id", "start_time", "end_time", "artifact_uri", "lifecycle_stage"];
export const DATASET_FIELDS = ["name", "digest", "context"];

const PREFIXES: { prefix: string; detail: string; aliases: string[] }[] = [
  { prefix: "metrics.", detail: "metric", aliases: ["metrics", "metric"] },
  { prefix: "params.", detail: "param", aliases: ["params", "param", "parameter", "parameters"] },
  { prefix: "tags.", detail: "tag", aliases: ["tags", "tag"] },
  { prefix: "attributes.", detail: "attribute", aliases: ["attributes", "attribute", "attr", "run"] },
  { prefix: "datasets.", detail: "dataset", aliases: ["datasets", "dataset"] },
];

const KEYWORDS = new Set(["and", "or", "not", "in", "is", "null", "like", "ilike"]);
const LIMIT = 50;

/** True when position `at` lies inside a quoted string literal. */
export function insideString(text: string, at: number): boolean {
  let quote: string | null = null;
  for (let i = 0; i < at; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) {
        if (text[i + 1] === quote && i + 1 < at) i++; // a doubled quote
        else quote = null;
      }
    } else if (c === "'" || c === '"') quote = c;
  }
  return quote !== null;
}

function rank(keys: string[], typed: string): string[] {
  const t = typed.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const k of keys) {
    const l = k.toLowerCase();
    if (l.startsWith(t)) starts.push(k);
    else if (t && l.includes(t)) contains.push(k);
  }
  starts.sort((a, b) => a.localeCompare(b));
  contains.sort((a, b) => a.localeCompare(b));
  return [...starts, ...contains];
}

export function complete(text: string, cursor: number, keys: KnownKeys): Completion | null {
  if (insideString(text, cursor)) return null;
  const before = text.slice(0, cursor);
  // a prefix, its dot, and a key typed so far (bare or after an opening backtick)
  const m = /(^|[\s(])([A-Za-z_]\w*)(?:\.(`[^`]*|[\w.\-/]*))?$/.exec(before);
  if (!m) return null;
  const start = m.index + m[1].length;
  const word = m[2];
  const rest = m[3];
  if (rest === undefined) {
    if (before.endsWith(".")) return null;
    if (KEYWORDS.has(word.toLowerCase())) return null;
    const suggestions = PREFIXES.filter((p) => p.prefix.startsWith(word.toLowerCase()) && p.prefix !== word)
      .map((p) => ({ label: p.prefix, value: p.prefix, detail: p.detail, complete: false }));
    return suggestions.length ? { start, end: cursor, suggestions } : null;
  }
  const kind = PREFIXES.find((p) => p.aliases.includes(word.toLowerCase()));
  if (!kind) return null;
  const typed = rest.startsWith("`") ? rest.slice(1) : rest;
  let pool: string[];
  switch (kind.prefix) {
    case "metrics.":
      pool = keys.metrics;
      break;
    case "params.":
      pool = keys.params;
      break;
    case "tags.":
      pool = keys.tags;
      break;
    case "attributes.":
      pool = RUN_ATTRIBUTES;
      break;
    default:
      pool = DATASET_FIELDS;
  }
  const suggestions = rank(pool, typed)
    .slice(0, LIMIT)
    .map((k) => ({ label: k, value: `${word}.${quoteKey(k)}`, detail: kind.detail, complete: true }));
  return suggestions.length ? { start, end: cursor, suggestions } : null;
}

/** The text after taking a suggestion, and where the cursor goes. */
export function applySuggestion(text: string, completion: Completion, s: Suggestion): { text: string; cursor: number } {
  const after = text.slice(completion.end).replace(/^[\w.`\-/]*/, "");
  const insert = s.complete && !after.startsWith(" ") ? `${s.value} ` : s.value;
  const next = text.slice(0, completion.start) + insert + after;
  return { text: next, cursor: completion.start + insert.length };
}
