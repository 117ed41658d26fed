// Cairn's background jobs (/api/v1/jobs, admins): a page of jobs by kind and state, newest
// first and paged by keyset token; one job; cancel and retry.
import { apiGet, apiPost } from "../../api/http";
import type { V1 } from "../../api/types";
import { searchFromFilter, type JobFilter } from "./query";

/** One job as the server describes it (the contract of GET /api/v1/jobs/{id}). */
export interface Job {
  id: number;
  kind: string;
  payload: Record<string, unknown>;
  state: string;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires: number | null;
  run_after: number;
  result: Record<string, unknown> | null;
  error: string | null;
  key: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  cancel_requested: boolean;
}

export interface JobPage {
  jobs: Job[];
  next_page_token?: string | null;
}

export const JOBS = "/api/v1/jobs";

export function searchJobs(filter: JobFilter, pageToken?: string | null, maxResults = 50, signal?: AbortSignal): Promise<JobPage> {
  const params: Record<string, string | number | undefined> = { max_results: maxResults, page_token: pageToken ?? undefined };
  for (const [k, v] of searchFromFilter(filter)) params[k] = v;
  return apiGet<JobPage>(JOBS, params, signal);
}

export const getJob = (id: number, signal?: AbortSignal) => apiGet<Job>(`${JOBS}/${id}`, undefined, signal);
export const cancelJob = (id: number) => apiPost<Job>(`${JOBS}/${id}/cancel`);
export const retryJob = (id: number) => apiPost<Job>(`${JOBS}/${id}/retry`);

// tsc checks that the server's generated types (its OpenAPI description) still fit these
type Fits<Server, Ours> = Server extends Ours ? true : never;
export const contractFits: [Fits<V1<"JobList">, JobPage>, Fits<V1<"JobOut">, Job>] = [true, true];
