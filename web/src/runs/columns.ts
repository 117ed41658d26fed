// Run table columns are named by their search key: "params.lr", "metrics.loss",
// "tags.team", "attributes.status". The same id goes into the URL, the filter language and
// order_by.

export type ColumnKind = "params" | "metrics" | "tags" | "attributes";

export interface ColumnId {
  kind: ColumnKind;
  key: string;
}

export const ATTRIBUTE_COLUMNS: { key: string; label: string; sortable: boolean }[] = [
  { key: "status", label: "Status", sortable: true },
  { key: "start_time", label: "Started", sortable: true },
  { key: "duration", label: "Duration", sortable: false },
  { key: "user_id", label: "User", sortable: true },
  { key: "source", label: "Source", sortable: false },
];

export const DEFAULT_ATTRIBUTES = ["attributes.status", "attributes.start_time", "attributes.duration"];

const KINDS: ColumnKind[] = ["params", "metrics", "tags", "attributes"];

export function parseColumnId(id: string): ColumnId | null {
  const dot = id.indexOf(".");
  if (dot < 0) return null;
  const kind = id.slice(0, dot) as ColumnKind;
  const key = id.slice(dot + 1);
  if (!KINDS.includes(kind) || !key) return null;
  return { kind, key };
}

export function columnId(kind: ColumnKind, key: string): string {
  return `${kind}.${key}`;
}

/** A key as the search language needs it: bare when it is a plain identifier, else in
 * backticks (a backtick inside cannot be written, so such keys stay bare and fail loudly). */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || key.includes("`") ? key : `\`${key}\``;
}

/** The order_by / filter form of a column: "metrics.`val loss`", "attributes.start_time". */
export function searchKey(id: string): string | null {
  const col = parseColumnId(id);
  if (!col) return null;
  if (col.kind === "attributes") {
    const attr = ATTRIBUTE_COLUMNS.find((a) => a.key === col.key);
    return attr?.sortable ? `attributes.${col.key}` : null;
  }
  return `${col.kind}.${quoteKey(col.key)}`;
}

export function columnLabel(id: string): string {
  const col = parseColumnId(id);
  if (!col) return id;
  if (col.kind === "attributes") return ATTRIBUTE_COLUMNS.find((a) => a.key === col.key)?.label ?? col.key;
  return col.key;
}
