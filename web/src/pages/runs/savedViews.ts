// Named views of an experiment's runs table (filter, columns, sort, grouping, chart mode),
// kept on the server per user (/api/v1/views). A view is its URL query: opening a saved view
// puts that query in the address, so the view can be shared as a link too.
export interface SavedView {
  name: string;
  query: string;
}

export const VIEW_PARAMS = ["q", "order", "cols", "pin", "deleted", "mode", "group", "agg"];
export const MAX_VIEWS = 100;
export const MAX_NAME = 100;

/** The part of a URL query that a view saves (the selection and other pages' params are not). */
export function viewQuery(params: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const k of VIEW_PARAMS) {
    const v = params.get(k);
    if (v !== null) out.set(k, v);
  }
  return out.toString();
}

/** `params` with the view's query in place of the current one, and its name as `view`. */
export function applyView(params: URLSearchParams, view: SavedView): URLSearchParams {
  const out = new URLSearchParams(params);
  for (const k of VIEW_PARAMS) out.delete(k);
  out.delete("sel");
  for (const [k, v] of new URLSearchParams(view.query)) if (VIEW_PARAMS.includes(k)) out.set(k, v);
  out.set("view", view.name);
  return out;
}

/** The list with `view` saved under its name (replacing one of the same name); a blank or
 * over-long name is an error message instead. */
export function saveView(views: SavedView[], view: SavedView): SavedView[] | string {
  const name = view.name.trim();
  if (!name) return "Name the view";
  if (name.length > MAX_NAME) return `A view's name is at most ${MAX_NAME} characters`;
  const rest = views.filter((v) => v.name !== name);
  if (rest.length >= MAX_VIEWS) return `At most ${MAX_VIEWS} views per experiment`;
  return [...rest, { name, query: view.query }].sort((a, b) => a.name.localeCompare(b.name));
}
