// What a user chose about single runs of an experiment, shared by the runs table and its
// chart view: a run's colour, the runs pinned to the top, the runs hidden from the charts.
// Kept in this browser's localStorage per experiment (key cairn.runs.<experiment id>).
import { useCallback, useEffect, useState } from "react";
import { PALETTE } from "../../charts/data";

export interface RunPrefs {
  colors: Record<string, string>;
  pinned: string[];
  hidden: string[];
}

export const EMPTY_PREFS: RunPrefs = { colors: {}, pinned: [], hidden: [] };
const MAX_ENTRIES = 2000; // per list: a pathological store never grows without bound

export function prefsKey(experimentId: string): string {
  return `cairn.runs.${experimentId}`;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, MAX_ENTRIES) : [];
}

/** The stored prefs, anything malformed dropped (a hand-edited or old entry never breaks the page). */
export function parsePrefs(text: string | null): RunPrefs {
  if (!text) return EMPTY_PREFS;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return EMPTY_PREFS;
  }
  if (!raw || typeof raw !== "object") return EMPTY_PREFS;
  const r = raw as Record<string, unknown>;
  const colors: Record<string, string> = {};
  if (r.colors && typeof r.colors === "object") {
    for (const [k, v] of Object.entries(r.colors as Record<string, unknown>).slice(0, MAX_ENTRIES)) {
      if (typeof v === "string" && /^#[0-9a-f]{6}$/i.test(v)) colors[k] = v;
    }
  }
  return { colors, pinned: strings(r.pinned), hidden: strings(r.hidden) };
}

/** A run's colour: the one chosen for it, else one of the chart palette picked by its id (the
 * same run has the same colour in the table, the chart view and on every reload). */
export function runColor(prefs: RunPrefs, runId: string): string {
  const chosen = prefs.colors[runId];
  if (chosen) return chosen;
  let h = 0;
  for (let i = 0; i < runId.length; i++) h = (h * 31 + runId.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

export function toggled(list: string[], id: string): string[] {
  return list.includes(id) ? list.filter((x) => x !== id) : [...list, id];
}

/** Pinned runs first (in the order they were pinned), then the others in their order. */
export function pinnedFirst<T>(items: T[], idOf: (t: T) => string, pinned: string[]): T[] {
  if (!pinned.length) return items;
  const at = new Map(pinned.map((p, i) => [p, i]));
  const top = items.filter((t) => at.has(idOf(t))).sort((a, b) => at.get(idOf(a))! - at.get(idOf(b))!);
  return [...top, ...items.filter((t) => !at.has(idOf(t)))];
}

/** The prefs of one experiment, and a setter that stores them (other tabs follow). */
export function useRunPrefs(experimentId: string): [RunPrefs, (update: (p: RunPrefs) => RunPrefs) => void] {
  const key = prefsKey(experimentId);
  const [prefs, setPrefs] = useState<RunPrefs>(() => parsePrefs(localStorage.getItem(key)));
  useEffect(() => {
    setPrefs(parsePrefs(localStorage.getItem(key)));
    const onStorage = (e: StorageEvent) => {
      if (e.key === key) setPrefs(parsePrefs(e.newValue));
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [key]);
  const update = useCallback(
    (fn: (p: RunPrefs) => RunPrefs) => {
      setPrefs((cur) => {
        const next = fn(cur);
        try {
          localStorage.setItem(key, JSON.stringify(next));
        } catch {
          // a full or disabled storage: the choice lasts for this page only
        }
        return next;
      });
    },
    [key],
  );
  return [prefs, update];
}
