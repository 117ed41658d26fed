// The decisions of the approval widgets, apart from the components (logic.test.ts): a
// policy's summary, its edit form's text fields, a request's target and progress.
import type { ApprovalRequest, Evidence, MetricOp, Policy, PolicyBody, RequestState, Target } from "./api";
import { EVALUATION_OUTCOMES, METRIC_OPS, REQUEST_STATES } from "./api";

/** "stage Production", "alias @champion". */
export function targetLabel(target: Target): string {
  return "stage" in target ? `stage ${target.stage}` : `alias @${target.alias}`;
}

export function evidenceLabel(e: Evidence): string {
  return evidenceLine(e);
}

/** One sentence for the model page: what the policy guards and what it asks. */
export function policySummary(p: Pick<Policy, "stages" | "aliases" | "required_approvals" | "approver_role" | "evidence">): string {
  const guarded = [...p.stages.map((s) => `stage ${s}`), ...p.aliases.map((a) => `alias @${a}`)];
  const what = guarded.length ? guarded.join(", ") : "nothing";
  const who = p.approver_role ? `members of role ${p.approver_role}` : "managers of this model";
  const n = p.required_approvals;
  const approvals = `${n} approval${n === 1 ? "" : "s"} from ${who}`;
  const evidence = p.evidence.length ? `; evidence: ${p.evidence.map(evidenceLabel).join(", ")}` : "";
  return `Moving a version to ${what} needs ${approvals}${evidence}.`;
}

/** The edit form's fields as text: lists comma-separated, one evidence rule a line. */
export interface PolicyDraft {
  stages: string[];
  aliases: string;
  required_approvals: string;
  approver_role: string;
  evidence: string;
}

export function draftOf(p: Policy | null | undefined): PolicyDraft {
  return {
    stages: p?.stages ?? ["Production"],
    aliases: (p?.aliases ?? []).join(", "),
    required_approvals: String(p?.required_approvals ?? 1),
    approver_role: p?.approver_role ?? "",
    evidence: (p?.evidence ?? []).map(evidenceLine).join("\n"),
  };
}

/** An evidence rule as its form line: `tag Approval_Status = Approved`, `metric test_f1 >= 0.85`,
 * `evaluation red_team_full passed`. */
export function evidenceLine(e: Evidence): string {
  if (e.kind === "tag") return `tag ${e.key} = ${e.value}`;
  if (e.kind === "evaluation") return `evaluation ${e.key} ${e.value}`;
  return `metric ${e.key} ${e.op} ${e.value}`;
}

const OPS_BY_LENGTH = [...METRIC_OPS].sort((a, b) => b.length - a.length);

/** A form line as an evidence rule, or the reason it is not one. */
export function parseEvidence(line: string): Evidence | string {
  const m = /^\s*(tag|metric|evaluation)\s+(.+)$/i.exec(line);
  if (!m) return `"${line.trim()}": start with "tag", "metric" or "evaluation"`;
  const kind = m[1].toLowerCase();
  const rest = m[2];
  if (kind === "evaluation") {
    const [key, outcome = "passed", ...extra] = rest.trim().split(/\s+/);
    const value = EVALUATION_OUTCOMES.find((o) => o === outcome.toLowerCase());
    if (!key || !value || extra.length) return `"${line.trim()}": write evaluation COLLECTION [passed|completed]`;
    return { kind: "evaluation", key, value };
  }
  if (kind === "tag") {
    const eq = rest.indexOf("=");
    const key = eq >= 0 ? rest.slice(0, eq).trim() : "";
    if (!key) return `"${line.trim()}": write tag KEY = VALUE`;
    return { kind: "tag", key, value: rest.slice(eq + 1).trim() };
  }
  for (const op of OPS_BY_LENGTH) {
    const at = rest.indexOf(op);
    if (at <= 0) continue;
    const key = rest.slice(0, at).trim();
    const raw = rest.slice(at + op.length).trim();
    const value = Number(raw);
    if (!key || raw === "" || !Number.isFinite(value)) return `"${line.trim()}": write metric KEY ${op} NUMBER`;
    return { kind: "metric", key, op: op as MetricOp, value };
  }
  return `"${line.trim()}": write metric KEY >= NUMBER (or >, <=, <, ==)`;
}

/** The PUT body of a draft, or the problems that keep it from being sent. */
export function bodyOf(d: PolicyDraft): { body: PolicyBody } | { problems: string[] } {
  const problems: string[] = [];
  const aliases = d.aliases
    .split(",")
    .map((a) => a.trim().replace(/^@/, ""))
    .filter(Boolean);
  const n = Number(d.required_approvals);
  if (!Number.isInteger(n) || n < 1) problems.push("Required approvals must be a whole number, at least 1.");
  if (!d.stages.length && !aliases.length) problems.push("Choose at least one stage or alias the policy guards.");
  const evidence: Evidence[] = [];
  for (const line of d.evidence.split("\n")) {
    if (!line.trim()) continue;
    const e = parseEvidence(line);
    if (typeof e === "string") problems.push(e);
    else evidence.push(e);
  }
  if (problems.length) return { problems };
  return { body: { stages: d.stages, aliases, required_approvals: n, approver_role: d.approver_role.trim() || null, evidence } };
}

/** "1 of 2 approvals". */
export function progress(r: Pick<ApprovalRequest, "approvals" | "required_approvals">): string {
  return `${r.approvals.length} of ${r.required_approvals} approval${r.required_approvals === 1 ? "" : "s"}`;
}

/** Who may cancel a pending request: its requester (the server also lets MANAGE holders). */
export function mayCancel(r: Pick<ApprovalRequest, "state" | "requested_by" | "can_approve">, username: string | undefined): boolean {
  return r.state === "pending" && (r.requested_by === username || r.can_approve);
}

/** The state the Requests page's URL asks for: `pending` when it names none (or an unknown
 * one), "" (every state) for `all`. */
export function stateOf(param: string | null): RequestState | "" {
  if (param === "all") return "";
  return REQUEST_STATES.includes(param as RequestState) ? (param as RequestState) : "pending";
}
