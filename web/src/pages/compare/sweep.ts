// Where the scatter and box plot start for a sweep: the metric the runs were tuned for against
// the param that moves it most, not the alphabetically first keys (which on a sweep are often
// a constant param and a metric only one run logged).
import { metricNumber, type CompareRun, type Field } from "./logic";

/** Metric names that usually carry a sweep's objective, most telling first (matched against
 * the name without its prefix, so `test_f1` and `val/accuracy` count). */
const OBJECTIVES = ["f1", "f1_score", "accuracy", "acc", "auc", "roc_auc", "r2", "precision", "recall", "loss", "rmse", "mae", "mse", "error"];
const SPLITS = ["test", "val", "valid", "validation", "eval", ""];

function objectiveRank(key: string): number {
  const k = key.toLowerCase();
  for (const [s, split] of SPLITS.entries()) {
    for (const [o, name] of OBJECTIVES.entries()) {
      const candidates = split ? [`${split}_${name}`, `${split}/${name}`, `${split}.${name}`, `${name}_${split}`] : [name];
      if (candidates.includes(k)) return s * OBJECTIVES.length + o;
    }
  }
  return Number.POSITIVE_INFINITY;
}

function finite(run: CompareRun, key: string): number | null {
  const v = metricNumber(run.metrics[key]);
  return v !== null && Number.isFinite(v) ? v : null;
}

function numericParam(run: CompareRun, key: string): number | null {
  const raw = run.params[key];
  if (raw === undefined || raw.trim() === "") return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}

/** |Pearson correlation| of paired values (0 when either side is constant). */
export function correlation(pairs: [number, number][]): number {
  const n = pairs.length;
  if (n < 3) return 0;
  const mx = pairs.reduce((s, p) => s + p[0], 0) / n;
  const my = pairs.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? Math.abs(sxy / Math.sqrt(sxx * syy)) : 0;
}

/** The metric to plot: of those most runs logged (at least half) and that vary, a known
 * objective name first (test F1 before train accuracy before loss), else the one most runs
 * have; system metrics never. */
export function sweepMetric(runs: CompareRun[]): string | null {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.metrics)) if (!k.startsWith("system/")) keys.add(k);
  const scored = [...keys].map((key) => {
    const values = runs.map((r) => finite(r, key)).filter((v): v is number => v !== null);
    return { key, count: values.length, varies: new Set(values).size > 1 };
  });
  const enough = scored.filter((s) => s.count >= Math.max(2, Math.ceil(runs.length / 2)) && s.varies);
  const pool = enough.length ? enough : scored.filter((s) => s.count > 0);
  pool.sort((a, b) => objectiveRank(a.key) - objectiveRank(b.key) || b.count - a.count || a.key.localeCompare(b.key));
  return pool[0]?.key ?? null;
}

/** The numeric param that varies and tracks `metric` most closely (|correlation|), else the
 * numeric param with the most distinct values. */
export function scatterParam(runs: CompareRun[], metric: string | null): string | null {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.params)) keys.add(k);
  let best: { key: string; score: number; distinct: number } | null = null;
  for (const key of [...keys].sort()) {
    const xs = runs.map((r) => numericParam(r, key));
    const present = xs.filter((x): x is number => x !== null);
    if (present.length < 2 || present.length < runs.filter((r) => key in r.params).length) continue; // not numeric
    const distinct = new Set(present).size;
    if (distinct < 2) continue;
    const pairs: [number, number][] = [];
    if (metric) runs.forEach((r, i) => {
      const y = finite(r, metric);
      if (xs[i] !== null && y !== null) pairs.push([xs[i]!, y]);
    });
    const score = correlation(pairs);
    if (!best || score > best.score || (score === best.score && distinct > best.distinct)) best = { key, score, distinct };
  }
  return best?.key ?? null;
}

/** The param to group a box plot by: 2 to `maxGroups` distinct values among the runs that have
 * it and at least two runs a group on average, the one whose groups' medians of `metric` lie
 * furthest apart (it explains the metric best). */
export function boxParam(runs: CompareRun[], metric: string | null, maxGroups = 12): string | null {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.params)) keys.add(k);
  let best: { key: string; spread: number; groups: number } | null = null;
  for (const key of [...keys].sort()) {
    const groups = new Map<string, number[]>();
    for (const r of runs) {
      if (!(key in r.params)) continue;
      const y = metric ? finite(r, metric) : null;
      const g = groups.get(r.params[key]!) ?? [];
      if (y !== null) g.push(y);
      groups.set(r.params[key]!, g);
    }
    // a box needs a few runs: a param where most values stand alone (a learning rate each
    // trial drew) is the scatter's, not the box plot's
    const grouped = [...groups.values()].reduce((n, g) => n + g.length, 0);
    if (groups.size < 2 || groups.size > maxGroups || groups.size * 2 > Math.max(grouped, 2)) continue;
    const medians = [...groups.values()].filter((g) => g.length).map((g) => [...g].sort((a, b) => a - b)[Math.floor((g.length - 1) / 2)]!);
    const spread = medians.length > 1 ? Math.max(...medians) - Math.min(...medians) : 0;
    if (!best || spread > best.spread || (spread === best.spread && groups.size < best.groups)) best = { key, spread, groups: groups.size };
  }
  return best?.key ?? null;
}

/** The scatter's and box plot's starting fields for these runs. */
export function sweepDefaults(runs: CompareRun[]): { metric: string | null; x: Field | null; y: Field | null; boxParam: string | null } {
  const metric = sweepMetric(runs);
  const x = scatterParam(runs, metric);
  return { metric, x: x ? { kind: "param", key: x } : null, y: metric ? { kind: "metric", key: metric } : null, boxParam: boxParam(runs, metric) };
}
