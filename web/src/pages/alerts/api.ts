// Metric alerts (/api/v1/alerts): rules (list, create, delete) and the alerts they fire.
import { apiDelete, apiGet, apiPost } from "../../api/http";
import type { V1 } from "../../api/types";

const enc = encodeURIComponent;

export type Rule = V1<"RuleOut">;
export type Alert = V1<"AlertOut">;
export type RuleKind = Rule["kind"];
export type AlertState = Alert["state"];

export const RULE_KINDS: RuleKind[] = ["threshold", "drop", "non_finite", "stalled", "failed_run"];
export const OPS = [">", ">=", "<", "<=", "==", "!="] as const; // what the server accepts

/** The body of a new rule, as the create form sends it (only the fields its kind uses). */
export interface RuleBody {
  name: string;
  kind: RuleKind;
  experiment_id?: string;
  model_name?: string;
  filter?: string;
  metric?: string;
  op?: string;
  value?: number;
  against?: "best" | "previous";
  measure?: "percent" | "absolute";
  direction?: "max" | "min";
  minutes?: number;
}

export const listAlerts = (params: { state?: AlertState | ""; page_token?: string | null; max_results?: number }) =>
  apiGet<V1<"AlertList">>("/api/v1/alerts", {
    state: params.state || undefined,
    max_results: params.max_results ?? 50,
    page_token: params.page_token ?? undefined,
  });

export const countFiring = () => apiGet<V1<"FiringCount">>("/api/v1/alerts/count");

export const acknowledge = (id: string) => apiPost<Alert>(`/api/v1/alerts/${enc(id)}/acknowledge`, {});

export const listRules = (params: { page_token?: string | null } = {}) =>
  apiGet<V1<"RuleList">>("/api/v1/alerts/rules", { max_results: 100, page_token: params.page_token ?? undefined });

export const createRule = (body: RuleBody) => apiPost<Rule>("/api/v1/alerts/rules", body);

export const deleteRule = (id: string) => apiDelete<unknown>(`/api/v1/alerts/rules/${enc(id)}`);
