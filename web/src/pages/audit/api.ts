// Cairn's change-event log (/api/v1/audit): the events one filter selects, newest first and
// paged by keyset token; the chain's verification and the export, for admins.
import { apiGet, withQuery } from "../../api/http";
import type { V1 } from "../../api/types";
import { auditParams, type AuditFilter } from "./query";

export type ActorKind = "user" | "token" | "system";

/** One change as the log holds it (the contract of GET /api/v1/audit). */
export interface AuditEvent {
  id: number;
  time: number;
  actor: string;
  actor_kind: ActorKind | string;
  address: string | null;
  request_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string;
  experiment_id: string | null;
  model_name: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  claimed_user: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditPage {
  events: AuditEvent[];
  next_page_token?: string | null;
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  first_id: number | null;
  head_id: number | null;
  head_hash: string | null;
  broken_at: number | null;
  reason: string | null;
}

export const AUDIT = "/api/v1/audit";

export function searchAudit(filter: AuditFilter, pageToken?: string | null, maxResults = 50, signal?: AbortSignal): Promise<AuditPage> {
  return apiGet<AuditPage>(AUDIT, { ...auditParams(filter), max_results: maxResults, page_token: pageToken ?? undefined }, signal);
}

export const verifyChain = () => apiGet<ChainVerification>(`${AUDIT}/verify`);

/** The address of the export of the events `filter` selects (oldest first), as a file. */
export function exportHref(filter: AuditFilter, format: "jsonl" | "csv"): string {
  return withQuery(`${AUDIT}/export`, { format, ...auditParams(filter) });
}

// tsc checks that the server's generated types (its OpenAPI description) still fit these
type Fits<Server, Ours> = Server extends Ours ? true : never;
export const contractFits: [Fits<V1<"EventList">, AuditPage>, Fits<V1<"ChainReportOut">, ChainVerification>] = [true, true];
