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
  { key: "registered", label: "Registered as", sortable: false },
  { key: "datasets", label: "Datasets", sortable: false },
];

export const DEFAULT_ATTRIBUTES = ["attributes.status", "attributes.start_time"];

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

/** One column of the runs table as drawn: its width, and where a pinned one sticks. */
export interface ColumnLayout {
  id: string; // "select", "name", or a column id such as "metrics.loss"
  label: string;
  width: number;
  pinned: boolean;
  left: number; // a pinned column's sticky offset from the table's left edge
}

const SELECT_WIDTH = 40;
const NAME_WIDTH = 230;

/** A column's width from what it shows: fixed for the attributes, by key length otherwise. */
export function columnWidth(id: string): number {
  if (id === "select") return SELECT_WIDTH;
  if (id === "name") return NAME_WIDTH;
  const col = parseColumnId(id);
  if (!col) return 120;
  if (col.kind === "attributes")
    return col.key === "start_time" ? 170 : col.key === "status" ? 96 : col.key === "source" || col.key === "registered" || col.key === "datasets" ? 150 : 100;
  // a metric's column is as wide as its key needs, within 96..200 (name + 6 metrics fit at 1280×720)
  return Math.min(200, Math.max(96, col.key.length * 7 + 56));
}

/** The table's columns in drawing order: the checkbox and the run name, then the pinned
 * columns (in the order given), then the rest; pinned ones carry their sticky offsets. */
export function layoutColumns(columns: string[], pinned: string[]): { columns: ColumnLayout[]; width: number } {
  const ids = ["select", "name", ...columns];
  const isPinned = new Set(["select", "name", ...pinned.filter((p) => columns.includes(p))]);
  const ordered = [...ids.filter((id) => isPinned.has(id)), ...ids.filter((id) => !isPinned.has(id))];
  let left = 0;
  let width = 0;
  const out = ordered.map((id) => {
    const w = columnWidth(id);
    const c: ColumnLayout = { id, label: id === "select" ? "" : id === "name" ? "Run" : columnLabel(id), width: w, pinned: isPinned.has(id), left: isPinned.has(id) ? left : 0 };
    if (c.pinned) left += w;
    width += w;
    return c;
  });
  return { columns: out, width };
}
