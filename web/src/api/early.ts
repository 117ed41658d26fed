// Requests index.html starts before the app's code has loaded (see the inline script there):
// the experiment page's first page of runs, the experiment and its summary. Before the first
// render, main.tsx waits a moment for them to settle (settleEarly), so the page's first
// render already has its data (peekEarly, for a query's initialData); an answer that was not
// there in time is still taken by the request that asks the same (takeEarly).
import { readResponse } from "./http";

interface Early {
  [key: string]: Promise<Response> | undefined;
}

declare global {
  interface Window {
    __cairnEarly?: Early;
  }
}

const settled = new Map<string, unknown>();
let settling = true; // until settleEarly has returned

export function earlyKey(kind: string, ...parts: (string | number | undefined)[]): string {
  return `${kind}|${parts.map((p) => p ?? "").join("|")}`;
}

/** The pending answer for `key`, read as the API's answer; null when there is none. */
export function takeEarly<T>(key: string): Promise<T> | null {
  const early = window.__cairnEarly;
  const pending = early?.[key];
  if (!pending) return null;
  delete early[key];
  return pending.then((response) => readResponse<T>(response));
}

/** Waits up to `ms` for the early requests of the `needed` kinds (the others are not waited
 * for, but taken too if they have come); each one answered successfully by then can be
 * peeked once. A failed or late one stays with takeEarly, so its error reaches the page. */
export async function settleEarly(ms: number, needed: string[]): Promise<void> {
  const early = window.__cairnEarly;
  if (!early) return;
  const keys = Object.keys(early);
  if (!keys.length) return;
  const reads = keys.map(async (key) => {
    try {
      const response = await early[key]!;
      if (!response.ok) return;
      const data: unknown = await response.clone().json();
      if (!settling) return; // too late: the page has asked for it by now
      settled.set(key, data);
      delete early[key];
    } catch {
      // a failed request stays with takeEarly, whose caller reports it
    }
  });
  let timer = 0;
  const timeout = new Promise<void>((resolve) => (timer = window.setTimeout(resolve, ms)));
  const waited = reads.filter((_, i) => needed.includes(keys[i].split("|")[0]));
  await Promise.race([Promise.allSettled(waited), timeout]);
  // one more turn for the others that are answered already
  await new Promise((resolve) => window.setTimeout(resolve, 0));
  window.clearTimeout(timer);
  settling = false;
}

/** The settled answer for `key`, once; undefined when there is none. */
export function peekEarly<T>(key: string): T | undefined {
  if (!settled.has(key)) return undefined;
  const data = settled.get(key) as T;
  settled.delete(key);
  return data;
}
