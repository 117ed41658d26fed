// Retention (/api/v1): an experiment's retention policy, and a dry run of a cleanup of it.
import { apiDelete, apiGet, apiPost, apiPut, withQuery } from "../../api/http";
import type { V1 } from "../../api/types";

const enc = encodeURIComponent;

export type RetentionPolicy = V1<"RetentionPolicyOut">;
export type RetentionReport = V1<"RetentionReportOut">;
export type PolicyBody = V1<"RetentionPolicyIn">;
export const FINISHED_STATUSES = ["FINISHED", "FAILED", "KILLED"] as const;

export const policyPath = (experimentId: string) => `/api/v1/experiments/${enc(experimentId)}/retention-policy`;

export interface Applying {
  own: RetentionPolicy | null;
  global: RetentionPolicy | null;
}

/** The experiment's own policy and the global one (null when there is none), from the list
 * of policies (one request, and no 404 for "none"). */
export async function getPolicies(experimentId: string): Promise<Applying> {
  const { policies } = await apiGet<V1<"RetentionPolicyList">>("/api/v1/retention/policies");
  return {
    own: policies.find((p) => p.experiment_id === experimentId) ?? null,
    global: policies.find((p) => p.experiment_id === null || p.experiment_id === undefined) ?? null,
  };
}

export const putPolicy = (experimentId: string, body: PolicyBody) => apiPut<RetentionPolicy>(policyPath(experimentId), body);
export const deletePolicy = (experimentId: string) => apiDelete<unknown>(policyPath(experimentId));

/** What a cleanup of this experiment with ``body``'s rule would delete (changes nothing). */
export const dryRun = (experimentId: string, body: PolicyBody, limit = 20) =>
  apiPost<RetentionReport>(
    withQuery("/api/v1/cleanup", {
      days_old: body.older_than_days,
      experiment_id: experimentId,
      status: (body.statuses ?? []).join(",") || undefined,
      keep_newest: body.keep_newest || undefined,
      dry_run: true,
      limit,
    }),
    {},
  );
