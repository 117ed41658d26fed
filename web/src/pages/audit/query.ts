// The audit filters: the Audit page's URL query, the API's query parameters, and the entity
// filters of the history panels. Kept apart from the components (query.test.ts).

/** What the log is filtered by. Times are what the user typed: an ISO date or date-time
 * (local time when it has no zone) or ms since the epoch. */
export interface AuditFilter {
  actor?: string;
  action?: string;
  entity_type?: string;
  entity_id?: string;
  experiment_id?: string;
  model_name?: string;
  since?: string;
  until?: string;
}

export const FILTER_KEYS = ["actor", "action", "entity_type", "entity_id", "experiment_id", "model_name", "since", "until"] as const satisfies readonly (keyof AuditFilter)[];

/** The entity types of the log, for the Audit page's choice. */
export const ENTITY_TYPES = [
  "experiment",
  "run",
  "artifact",
  "dataset",
  "logged_model",
  "registered_model",
  "model_version",
  "policy",
  "approval_request",
  "retention_policy",
  "alert_rule",
  "alert",
  "user",
  "token",
  "session",
  "role",
  "permission",
  "setting",
  "audit",
  "webhook",
  "job",
] as const;

/** The filter a URL query holds (unknown keys and empty values left out). */
export function filterFromSearch(search: URLSearchParams): AuditFilter {
  const out: AuditFilter = {};
  for (const key of FILTER_KEYS) {
    const v = search.get(key)?.trim();
    if (v) out[key] = v;
  }
  return out;
}

/** The URL query of a filter: only the keys that are set, in a fixed order. */
export function searchFromFilter(filter: AuditFilter): URLSearchParams {
  const out = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const v = filter[key]?.trim();
    if (v) out.set(key, v);
  }
  return out;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** A time bound for the API (`since` inclusive, `until` exclusive): ms since the epoch. A date
 * alone is the start of that local day, or for `until` the start of the next (so "until
 * 2026-12-04" includes the 4th); a date-time without a zone is local time (the server reads
 * zoneless ISO text as UTC, so the page converts it); text that is no time goes to the server
 * as it is, whose 400 names the field. */
export function timeBound(text: string | undefined, end: boolean): string | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  if (/^\d+$/.test(t)) return t;
  if (DATE_ONLY.test(t)) {
    const [y, m, d] = t.split("-").map(Number);
    const ms = new Date(y, m - 1, end ? d + 1 : d).getTime();
    return String(ms);
  }
  const parsed = LOCAL_DATE_TIME.test(t) ? new Date(t.replace(" ", "T")).getTime() : Date.parse(t);
  return Number.isFinite(parsed) ? String(parsed) : t;
}

/** The query parameters of GET /api/v1/audit (and its export) for a filter. */
export function auditParams(filter: AuditFilter): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of FILTER_KEYS) {
    if (key === "since" || key === "until") continue;
    const v = filter[key]?.trim();
    if (v) out[key] = v;
  }
  out.since = timeBound(filter.since, false);
  out.until = timeBound(filter.until, true);
  return out;
}

/** The history of one thing, as a filter: the panels of the run, experiment, model and
 * version pages. */
export type HistorySubject =
  | { kind: "run"; runId: string }
  | { kind: "experiment"; experimentId: string }
  | { kind: "model"; name: string }
  | { kind: "version"; name: string; version: string };

export function subjectFilter(subject: HistorySubject): AuditFilter {
  switch (subject.kind) {
    case "run":
      return { entity_type: "run", entity_id: subject.runId };
    case "experiment":
      return { experiment_id: subject.experimentId };
    case "model":
      return { model_name: subject.name };
    case "version":
      return { entity_type: "model_version", entity_id: `${subject.name}/${subject.version}` };
  }
}

/** The Audit page's address showing what a history panel shows (for "see all in Audit"). */
export function auditLink(filter: AuditFilter): string {
  const qs = searchFromFilter(filter).toString();
  return qs ? `/audit?${qs}` : "/audit";
}
