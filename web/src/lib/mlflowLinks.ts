// MLflow's UI lives behind a hash (`/#/experiments/1/runs/<id>`), and the mlflow client prints
// such links after every run. Cairn's pages have plain paths; this turns an MLflow hash route
// into the matching Cairn path (with its query), or null when the hash is not one of MLflow's.

/** MLflow writes id lists in its query strings as JSON arrays (`runs=["a","b"]`); older links
 * use comma-separated ids. Either way: the ids, in order, without duplicates. */
function idList(value: string | null): string[] {
  if (!value) return [];
  let items: unknown[] = [];
  try {
    const parsed: unknown = JSON.parse(value);
    items = Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    items = value.split(",");
  }
  const ids = items.map((v) => String(v).trim()).filter((v) => v && v !== "null");
  return [...new Set(ids)];
}

/** A JSON-quoted single value (`metric="loss"`), or the raw text. */
function jsonString(value: string | null): string | null {
  if (value == null) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "string" ? parsed : value;
  } catch {
    return value;
  }
}

const enc = encodeURIComponent;

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The Cairn path for an MLflow hash route (`#/…`), or null when `hash` is not one. */
export function mlflowHashToPath(hash: string): string | null {
  if (!hash.startsWith("#/")) return null;
  const body = hash.slice(1);
  const q = body.indexOf("?");
  const path = q < 0 ? body : body.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : body.slice(q + 1));
  const parts = path.split("/").filter(Boolean).map(safeDecode);
  const [head, a, b, c, d] = parts;

  if (parts.length === 0) return "/";
  if (head === "experiments") {
    if (!a) return "/";
    // /experiments/:id/runs/:run[/artifacts/...|/artifactPath/...|/model-metrics|…]
    if (b === "runs" && c) {
      if (d === "artifacts" || d === "artifactPath") {
        const rest = parts.slice(5).join("/");
        return `/runs/${enc(c)}${rest ? `?artifact=${enc(rest)}` : ""}#artifacts`;
      }
      return `/runs/${enc(c)}`;
    }
    // /experiments/:id/compare-runs?… (newer links keep the experiment in the path)
    if (b === "compare-runs") return compareRuns(query);
    // /experiments/:id/traces[?selectedTraceId=tr-…] (or the runs view in its traces mode)
    const traceId = query.get("selectedTraceId") ?? query.get("selectedEvaluationId");
    if (b === "traces" || query.get("compareRunsMode") === "TRACES") {
      return traceId ? `/experiments/${enc(a)}/traces/${enc(traceId)}` : `/experiments/${enc(a)}/traces`;
    }
    return `/experiments/${enc(a)}`;
  }
  if (head === "runs" && a) return `/runs/${enc(a)}`;
  if (head === "compare-runs") return compareRuns(query);
  if (head === "compare-experiments") {
    const ids = idList(query.get("experiments"));
    return ids.length ? `/experiments/${enc(ids[0])}` : "/";
  }
  if (head === "metric") {
    const runs = idList(query.get("runs"));
    const key = jsonString(query.get("plot_metric_keys")) ?? jsonString(query.get("metric"));
    const keys = key ? idList(key).join(",") || key : "";
    const params = new URLSearchParams();
    if (runs.length) params.set("runs", runs.join(","));
    if (keys) params.set("keys", keys);
    const text = params.toString();
    return `/metrics${text ? `?${text}` : ""}`;
  }
  if (head === "models") {
    if (!a) return "/models";
    if (b === "versions" && c) return `/models/${enc(a)}/versions/${enc(c)}`;
    return `/models/${enc(a)}`;
  }
  if (head === "compare-model-versions") {
    const name = query.get("name");
    return name ? `/models/${enc(jsonString(name) ?? name)}` : "/models";
  }
  return null;
}

function compareRuns(query: URLSearchParams): string {
  const runs = idList(query.get("runs"));
  return runs.length ? `/compare?runs=${runs.map(enc).join(",")}` : "/";
}

/** Called once before the router starts: an MLflow link opened on Cairn lands on its page. */
export function followMlflowLink(location: Location, history: History): void {
  if (location.pathname !== "/" && location.pathname !== "") return;
  const target = mlflowHashToPath(location.hash);
  if (target) history.replaceState(null, "", target);
}

/** An MLflow link pasted into the address bar while Cairn is open changes only the hash (no
 * new page load): load its Cairn page instead. */
export function watchMlflowLinks(win: Window): void {
  win.addEventListener("hashchange", () => {
    if (win.location.pathname !== "/" && win.location.pathname !== "") return;
    const target = mlflowHashToPath(win.location.hash);
    if (target) win.location.replace(target);
  });
}
