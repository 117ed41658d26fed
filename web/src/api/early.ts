// Requests index.html starts before the app's code has loaded (see the inline script there):
// the first page of an experiment's runs and the experiment itself. A page takes its answer
// once, when its request is the same; otherwise it asks the server as usual.
import { readResponse } from "./http";

interface Early {
  [key: string]: Promise<Response> | undefined;
}

declare global {
  interface Window {
    __cairnEarly?: Early;
  }
}

export function earlyKey(kind: string, ...parts: (string | number | undefined)[]): string {
  return `${kind}|${parts.map((p) => p ?? "").join("|")}`;
}

export function takeEarly<T>(key: string): Promise<T> | null {
  const early = window.__cairnEarly;
  const pending = early?.[key];
  if (!pending) return null;
  delete early[key];
  return pending.then((response) => readResponse<T>(response));
}
