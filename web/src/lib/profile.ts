// A dataset's profile (the JSON Cairn's SDK logs, see BRIEF / cairn.ml.datasets) read safely:
// any field may be missing or of the wrong type in data logged by other clients.

export interface NumericStats {
  count?: number;
  nulls?: number;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  p50?: number;
}

export interface DatasetProfile {
  numRows: number | null;
  numElements: number | null;
  targets: string | null;
  labels: [string, number][];
  numeric: [string, NumericStats][];
  textLength: [string, NumericStats][];
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function stats(obj: unknown): [string, NumericStats][] {
  if (!obj || typeof obj !== "object") return [];
  return Object.entries(obj as Record<string, unknown>).map(([col, s]) => {
    const o = (s && typeof s === "object" ? s : {}) as Record<string, unknown>;
    const pick = (k: string) => num(o[k]) ?? undefined;
    return [col, { count: pick("count"), nulls: pick("nulls"), min: pick("min"), max: pick("max"), mean: pick("mean"), std: pick("std"), p50: pick("p50") }];
  });
}

export function parseProfile(text: string | undefined): DatasetProfile | null {
  if (!text) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return null;
  const p = doc as Record<string, unknown>;
  const dist = p.label_distribution && typeof p.label_distribution === "object" ? (p.label_distribution as Record<string, unknown>) : {};
  const labels = Object.entries(dist)
    .map(([k, v]) => [k, num(v) ?? 0] as [string, number])
    .sort((a, b) => b[1] - a[1]);
  return {
    numRows: num(p.num_rows),
    numElements: num(p.num_elements),
    targets: typeof p.targets === "string" ? p.targets : null,
    labels,
    numeric: stats(p.numeric),
    textLength: stats(p.text_length),
  };
}

/** A dataset source as a short text: its uri, path, url or table when it has one; otherwise a
 * JSON object's fields as `key: value` pairs (so raw JSON reads as text; a nested object's
 * fields are pairs too); a plain string as is.
 * Takes the source as the wire has it (a JSON string) or already parsed. */
export function sourceText(source: unknown): string {
  let s = source;
  if (typeof s === "string") {
    try {
      s = JSON.parse(s);
    } catch {
      return source as string; // not JSON: show as is
    }
  }
  if (s === null || s === undefined) return "";
  if (typeof s !== "object" || Array.isArray(s)) return typeof s === "string" ? s : JSON.stringify(s);
  const o = s as Record<string, unknown>;
  for (const k of ["uri", "path", "url", "table_name", "location"]) if (typeof o[k] === "string") return o[k] as string;
  // a nested object (a code source's `tags`) gives its own pairs, not a JSON text
  const pairs = Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.entries(v as Record<string, unknown>) : [[k, v] as const],
  );
  return pairs.map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(" · ");
}
