// Promotion approvals (/api/v1): a registered model's promotion policy, the requests to move a
// version to a stage or an alias, their approval, rejection and cancelling, and the rollback.
import { apiDelete, apiGet, apiPost, apiPut } from "../../api/http";
import type { V1 } from "../../api/types";

const enc = encodeURIComponent;

export type Evidence =
  | { kind: "tag"; key: string; value: string }
  | { kind: "metric"; key: string; op: MetricOp; value: number }
  | { kind: "evaluation"; key: string; value: EvaluationOutcome };

export const EVALUATION_OUTCOMES = ["passed", "completed"] as const; // what an evaluation rule may ask
export type EvaluationOutcome = (typeof EVALUATION_OUTCOMES)[number];

export const METRIC_OPS = [">=", ">", "<=", "<", "=="] as const; // what the server's policy accepts
export type MetricOp = (typeof METRIC_OPS)[number];

export interface PolicyBody {
  stages: string[];
  aliases: string[];
  required_approvals: number;
  approver_role: string | null;
  evidence: Evidence[];
}

export interface Policy extends PolicyBody {
  model_name: string;
  updated_at?: number | null;
  updated_by?: string | null;
}

export type Target = { stage: string } | { alias: string };
export type RequestState = "pending" | "approved" | "rejected" | "cancelled";
export const REQUEST_STATES: RequestState[] = ["pending", "approved", "rejected", "cancelled"];

export interface Approval {
  actor: string;
  time: number;
  comment?: string | null;
}

export interface EvidenceCheck {
  check: string;
  ok: boolean;
  detail?: string | null;
}

export interface ApprovalRequest {
  id: string;
  model_name: string;
  version: string;
  target: Target;
  archive_existing_versions: boolean;
  state: RequestState;
  requested_by: string;
  requested_at: number;
  comment?: string | null;
  required_approvals: number;
  approvals: Approval[];
  decided_by?: string | null;
  decided_at?: number | null;
  decision_comment?: string | null;
  evidence: EvidenceCheck[];
  changes_since_request: string[];
  can_approve: boolean;
}

export interface Applied {
  applied: boolean;
  version?: string;
}

export interface RequestList {
  requests: ApprovalRequest[];
  next_page_token?: string | null;
}

export const policyPath = (name: string) => `/api/v1/models/${enc(name)}/promotion-policy`;

export const getPolicy = (name: string) => apiGet<Policy>(policyPath(name));

/** Which policies a model has and the metrics they use (READ on the model): asked before a
 * policy itself, so a model without one costs no 404 (and no console error). */
export type PolicySummary = V1<"PolicySummaryOut">;
export const getPolicySummary = (name: string, signal?: AbortSignal) =>
  apiGet<PolicySummary>(`/api/v1/models/${enc(name)}/policy-summary`, undefined, signal);
export const putPolicy = (name: string, body: PolicyBody) => apiPut<Policy>(policyPath(name), body);
export const deletePolicy = (name: string) => apiDelete<unknown>(policyPath(name));

/** Ask to move a version: a Request (201) when a policy covers the target, else the move is
 * made at once ({"applied": true}). */
export const requestPromotion = (name: string, version: string, target: Target, archive: boolean, comment: string) =>
  apiPost<ApprovalRequest | Applied>(`/api/v1/models/${enc(name)}/versions/${enc(version)}/requests`, {
    ...target,
    archive_existing_versions: archive,
    comment,
  });

export const listRequests = (params: { state?: RequestState | ""; model_name?: string; page_token?: string | null; max_results?: number }) =>
  apiGet<RequestList>("/api/v1/approval-requests", {
    state: params.state || undefined,
    model_name: params.model_name || undefined,
    max_results: params.max_results ?? 50,
    page_token: params.page_token ?? undefined,
  });

export const getRequest = (id: string) => apiGet<ApprovalRequest>(`/api/v1/approval-requests/${enc(id)}`);

export type Decision = "approve" | "reject" | "cancel";

export const decide = (id: string, decision: Decision, comment: string) =>
  apiPost<ApprovalRequest>(`/api/v1/approval-requests/${enc(id)}/${decision}`, { comment });

export const rollback = (name: string, stage: string, comment: string) =>
  apiPost<ApprovalRequest | Applied>(`/api/v1/models/${enc(name)}/rollback`, { stage, comment });

export function isApplied(answer: ApprovalRequest | Applied): answer is Applied {
  return "applied" in answer && answer.applied === true;
}

// The shapes above follow the API contract more closely than the generated types (a target is
// a stage or an alias, not any string map); tsc checks here that the server's OpenAPI
// description still fits them, so a change on either side fails the build.
type Fits<Server, Ours> = Server extends Ours ? true : never;
export const contractFits: [Fits<V1<"RequestOut">, Omit<ApprovalRequest, "target">>, Fits<V1<"PolicyOut">, Omit<Policy, "evidence">>, Fits<V1<"Applied">, Applied>] = [true, true, true];
