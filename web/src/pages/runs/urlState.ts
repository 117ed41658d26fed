// The runs table's view lives in the URL query, so every view is a link:
//   q=<filter>  order=<search key> <ASC|DESC>  cols=<id>,<id>  pin=<id>,<id>  sel=<run>,<run>
//   deleted=1 (deleted runs shown too)  mode=charts (the chart view instead of the table)
//   group=<params.x|tags.y> agg=<mean|min|max> (grouped by a param or tag)  view=<saved view name>
// Column ids never contain commas (MLflow keys cannot), run ids are hex.

export interface Order {
  key: string; // a search key, e.g. "metrics.loss" or "attributes.start_time"
  desc: boolean;
}

export interface RunsViewState {
  filter: string;
  order: Order | null;
  columns: string[] | null; // null: the default columns
  pinned: string[];
  selected: string[];
  deleted: boolean; // deleted runs shown beside the active ones
  charts: boolean; // the chart view instead of the table
  group: string | null; // a column id: "params.optimizer" or "tags.team"
  agg: Aggregate;
  savedView: string | null; // the name of the saved view this one was opened from
}

export type Aggregate = "mean" | "min" | "max";
export const AGGREGATES: Aggregate[] = ["mean", "min", "max"];

export const EMPTY_VIEW: RunsViewState = { filter: "", order: null, columns: null, pinned: [], selected: [], deleted: false, charts: false, group: null, agg: "mean", savedView: null };

function list(value: string | null): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseOrder(text: string | null): Order | null {
  if (!text) return null;
  const m = /^(.*?)\s+(ASC|DESC)$/i.exec(text.trim());
  if (m) return { key: m[1].trim(), desc: m[2].toUpperCase() === "DESC" };
  const key = text.trim();
  return key ? { key, desc: false } : null;
}

export function orderText(order: Order): string {
  return `${order.key} ${order.desc ? "DESC" : "ASC"}`;
}

export function decodeView(params: URLSearchParams): RunsViewState {
  const cols = params.get("cols");
  return {
    filter: params.get("q") ?? "",
    order: parseOrder(params.get("order")),
    columns: cols === null ? null : list(cols),
    pinned: list(params.get("pin")),
    selected: list(params.get("sel")),
    deleted: params.get("deleted") === "1",
    charts: params.get("mode") === "charts",
    group: parseGroup(params.get("group")),
    agg: (AGGREGATES as string[]).includes(params.get("agg") ?? "") ? (params.get("agg") as Aggregate) : "mean",
    savedView: params.get("view") || null,
  };
}

/** A group-by column: a param or a tag (metrics are what groups aggregate, not what makes them). */
export function parseGroup(value: string | null): string | null {
  if (!value) return null;
  return /^(params|tags)\../.test(value) ? value : null;
}

/** The view as query params, leaving out what is at its default; other params are kept. */
export function encodeView(state: RunsViewState, base?: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(base);
  const set = (k: string, v: string | null) => (v ? out.set(k, v) : out.delete(k));
  set("q", state.filter.trim() || null);
  set("order", state.order ? orderText(state.order) : null);
  if (state.columns === null) out.delete("cols");
  else out.set("cols", state.columns.join(","));
  set("pin", state.pinned.length ? state.pinned.join(",") : null);
  set("sel", state.selected.length ? state.selected.join(",") : null);
  set("deleted", state.deleted ? "1" : null);
  set("mode", state.charts ? "charts" : null);
  set("group", state.group);
  set("agg", state.group && state.agg !== "mean" ? state.agg : null);
  set("view", state.savedView);
  return out;
}
