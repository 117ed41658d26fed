// The Jobs page's filters (kind, state) in the URL and the API's query, and how a job's state
// and attempts read. Kept apart from the components (query.test.ts).

export const JOB_STATES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export interface JobFilter {
  kind?: string;
  state?: JobStateName;
}

function isState(value: string): value is JobStateName {
  return (JOB_STATES as readonly string[]).includes(value);
}

/** The filter a URL query holds: a blank kind and an unknown state are left out. */
export function filterFromSearch(search: URLSearchParams): JobFilter {
  const out: JobFilter = {};
  const kind = search.get("kind")?.trim();
  if (kind) out.kind = kind;
  const state = search.get("state")?.trim().toLowerCase();
  if (state && isState(state)) out.state = state;
  return out;
}

/** The URL query of a filter (and of the API call): only what is set, kind first. */
export function searchFromFilter(filter: JobFilter): URLSearchParams {
  const out = new URLSearchParams();
  const kind = filter.kind?.trim();
  if (kind) out.set("kind", kind);
  if (filter.state) out.set("state", filter.state);
  return out;
}

/** The badge class of a state (theme.css colours: green done, blue running, red failed…). */
export function stateTone(state: string): string {
  switch (state) {
    case "succeeded":
      return "FINISHED";
    case "running":
      return "RUNNING";
    case "failed":
      return "FAILED";
    case "cancelled":
      return "KILLED";
    default:
      return "";
  }
}

export interface JobMoves {
  cancel: boolean;
  retry: boolean;
}

/** What an admin may do with a job in this state: cancel it while unfinished (once), retry it
 * once it failed or was cancelled. */
export function moves(job: { state: string; cancel_requested: boolean }): JobMoves {
  return {
    cancel: job.state === "pending" || (job.state === "running" && !job.cancel_requested),
    retry: job.state === "failed" || job.state === "cancelled",
  };
}

/** "2 of 5" attempts, with the limit. */
export function attemptsText(job: { attempts: number; max_attempts: number }): string {
  return `${job.attempts} of ${job.max_attempts}`;
}
