// The experiment chart view's logic, apart from React: which metrics get a chart (and in which
// section), which runs are drawn, and the settings remembered per experiment.
import { parseAxis } from "../../charts/axes";
import type { XAxis } from "../../charts/types";

export const SYSTEM_PREFIX = "system/";
export const COLUMN_CHOICES = [1, 2, 3, 4] as const;
export const RUN_LIMITS = [10, 25, 50, 100, 250, 500, 1000] as const;

export interface ChartSettings {
  columns: number;
  /** the metrics chosen for charts; null: every metric the runs have */
  metrics: string[] | null;
  axis: XAxis;
  /** at most this many runs are drawn per chart (pinned ones first) */
  maxRuns: number;
}

export const DEFAULT_SETTINGS: ChartSettings = { columns: 3, metrics: null, axis: "step", maxRuns: 100 };

export function settingsKey(experimentId: string): string {
  return `cairn.charts.${experimentId}`;
}

export function parseSettings(text: string | null): ChartSettings {
  if (!text) return DEFAULT_SETTINGS;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return DEFAULT_SETTINGS;
  }
  if (!raw || typeof raw !== "object") return DEFAULT_SETTINGS;
  const r = raw as Record<string, unknown>;
  const columns = typeof r.columns === "number" && (COLUMN_CHOICES as readonly number[]).includes(r.columns) ? r.columns : DEFAULT_SETTINGS.columns;
  const maxRuns = typeof r.maxRuns === "number" && (RUN_LIMITS as readonly number[]).includes(r.maxRuns) ? r.maxRuns : DEFAULT_SETTINGS.maxRuns;
  const metrics = Array.isArray(r.metrics) ? r.metrics.filter((m): m is string => typeof m === "string").slice(0, 1000) : null;
  return { columns, metrics, axis: parseAxis(typeof r.axis === "string" ? r.axis : null), maxRuns };
}

/** The chart search box: every word must appear in the key (case-insensitive); a text in
 * slashes is a regular expression (an invalid one matches nothing rather than throwing). */
export function keyMatcher(search: string): (key: string) => boolean {
  const q = search.trim();
  if (!q) return () => true;
  if (q.length > 2 && q.startsWith("/") && q.endsWith("/")) {
    let re: RegExp;
    try {
      re = new RegExp(q.slice(1, -1), "i");
    } catch {
      return () => false;
    }
    return (k) => re.test(k);
  }
  const words = q.toLowerCase().split(/\s+/);
  return (k) => {
    const lower = k.toLowerCase();
    return words.every((w) => lower.includes(w));
  };
}

/** The metrics that get a chart, split into the model's and the system's (`system/…`). */
export function chartSections(all: string[], chosen: string[] | null, search: string): { model: string[]; system: string[] } {
  const match = keyMatcher(search);
  const picked = chosen === null ? all : all.filter((k) => chosen.includes(k));
  const keys = picked.filter(match);
  return { model: keys.filter((k) => !k.startsWith(SYSTEM_PREFIX)), system: keys.filter((k) => k.startsWith(SYSTEM_PREFIX)) };
}

/** The runs a chart draws: the selected ones when there is a selection, else the runs of the
 * current filter, in the table's order with the pinned ones first; hidden runs left out;
 * at most `max`. */
export function chartRuns(ordered: string[], selected: readonly string[], pinned: readonly string[], hidden: readonly string[], max: number): { runs: string[]; candidates: string[] } {
  const base = selected.length ? ordered.filter((id) => selected.includes(id)) : ordered;
  const inBase = new Set(base);
  const top = pinned.filter((p) => inBase.has(p));
  const pinnedSet = new Set(top);
  const candidates = [...top, ...base.filter((id) => !pinnedSet.has(id))];
  const hiddenSet = new Set(hidden);
  return { runs: candidates.filter((id) => !hiddenSet.has(id)).slice(0, max), candidates };
}
