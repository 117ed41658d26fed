import { describe, expect, it } from "vitest";
import { bodyOf, draftOf, evidenceLine, mayCancel, parseEvidence, policySummary, progress, stateOf, targetLabel } from "./logic";
import type { Policy } from "./api";

const policy: Policy = {
  model_name: "churn",
  stages: ["Production"],
  aliases: ["champion"],
  required_approvals: 2,
  approver_role: null,
  evidence: [
    { kind: "tag", key: "Approval_Status", value: "Approved" },
    { kind: "metric", key: "test_f1", op: ">=", value: 0.85 },
  ],
};

describe("policy summary", () => {
  it("says what is guarded, by whom, with which evidence", () => {
    expect(policySummary(policy)).toBe(
      "Moving a version to stage Production, alias @champion needs 2 approvals from managers of this model; evidence: tag Approval_Status = Approved, metric test_f1 >= 0.85.",
    );
    expect(policySummary({ ...policy, aliases: [], required_approvals: 1, approver_role: "ml-leads", evidence: [] })).toBe(
      "Moving a version to stage Production needs 1 approval from members of role ml-leads.",
    );
  });
  it("names targets", () => {
    expect(targetLabel({ stage: "Staging" })).toBe("stage Staging");
    expect(targetLabel({ alias: "champion" })).toBe("alias @champion");
  });
});

describe("evidence lines", () => {
  it("reads tag and metric rules", () => {
    expect(parseEvidence("tag Approval_Status = Approved")).toEqual({ kind: "tag", key: "Approval_Status", value: "Approved" });
    expect(parseEvidence(" metric test_f1 >= 0.85 ")).toEqual({ kind: "metric", key: "test_f1", op: ">=", value: 0.85 });
    expect(parseEvidence("metric loss<0.2")).toEqual({ kind: "metric", key: "loss", op: "<", value: 0.2 });
    expect(parseEvidence("metric acc == 1")).toEqual({ kind: "metric", key: "acc", op: "==", value: 1 });
    expect(parseEvidence("metric acc != 1")).toMatch(/or >, <=, <, ==/); // no such operator
    expect(parseEvidence("TAG reviewed =")).toEqual({ kind: "tag", key: "reviewed", value: "" });
  });
  it("says what is wrong with a bad line", () => {
    expect(parseEvidence("f1 > 3")).toMatch(/start with "tag", "metric" or "evaluation"/);
    expect(parseEvidence("evaluation red_team_full")).toEqual({ kind: "evaluation", key: "red_team_full", value: "passed" });
    expect(parseEvidence(" Evaluation qa completed ")).toEqual({ kind: "evaluation", key: "qa", value: "completed" });
    expect(parseEvidence("evaluation qa failed")).toMatch(/write evaluation COLLECTION \[passed\|completed\]/);
    expect(parseEvidence("evaluation qa passed extra")).toMatch(/write evaluation COLLECTION/);
    expect(parseEvidence("tag = x")).toMatch(/tag KEY = VALUE/);
    expect(parseEvidence("metric f1 >= high")).toMatch(/metric KEY >= NUMBER/);
    expect(parseEvidence("metric f1 0.8")).toMatch(/metric KEY >= NUMBER/);
  });
});

describe("the policy form", () => {
  it("round-trips a policy through its draft", () => {
    const d = draftOf(policy);
    expect(d).toEqual({
      stages: ["Production"],
      aliases: "champion",
      required_approvals: "2",
      approver_role: "",
      evidence: "tag Approval_Status = Approved\nmetric test_f1 >= 0.85",
    });
    expect(bodyOf(d)).toEqual({ body: { stages: ["Production"], aliases: ["champion"], required_approvals: 2, approver_role: null, evidence: policy.evidence } });
  });
  it("starts a new policy on Production with one approval", () => {
    expect(draftOf(null)).toEqual({ stages: ["Production"], aliases: "", required_approvals: "1", approver_role: "", evidence: "" });
  });
  it("takes @ off aliases, drops blank lines, keeps the role", () => {
    const r = bodyOf({ stages: [], aliases: "@champion, , challenger", required_approvals: "1", approver_role: " ml-leads ", evidence: "\n\nmetric f1 > 0.5\n" });
    expect(r).toEqual({ body: { stages: [], aliases: ["champion", "challenger"], required_approvals: 1, approver_role: "ml-leads", evidence: [{ kind: "metric", key: "f1", op: ">", value: 0.5 }] } });
  });
  it("refuses what the server would", () => {
    const r = bodyOf({ stages: [], aliases: "", required_approvals: "0", approver_role: "", evidence: "nonsense" });
    expect("problems" in r && r.problems).toEqual([
      "Required approvals must be a whole number, at least 1.",
      "Choose at least one stage or alias the policy guards.",
      '"nonsense": start with "tag", "metric" or "evaluation"',
    ]);
  });
});

describe("requests", () => {
  it("shows progress", () => {
    expect(progress({ approvals: [], required_approvals: 1 })).toBe("0 of 1 approval");
    expect(progress({ approvals: [{ actor: "a", time: 1 }], required_approvals: 2 })).toBe("1 of 2 approvals");
  });
  it("lets the requester and approvers cancel a pending request", () => {
    expect(mayCancel({ state: "pending", requested_by: "dana", can_approve: false }, "dana")).toBe(true);
    expect(mayCancel({ state: "pending", requested_by: "dana", can_approve: true }, "erin")).toBe(true);
    expect(mayCancel({ state: "pending", requested_by: "dana", can_approve: false }, "erin")).toBe(false);
    expect(mayCancel({ state: "approved", requested_by: "dana", can_approve: true }, "dana")).toBe(false);
  });
});

describe("the Requests page's state", () => {
  it("is pending unless the URL names another, or all", () => {
    expect(stateOf(null)).toBe("pending");
    expect(stateOf("rejected")).toBe("rejected");
    expect(stateOf("all")).toBe("");
    expect(stateOf("bogus")).toBe("pending");
  });
});

describe("evaluation evidence", () => {
  it("round-trips through its form line and reads in the policy summary", () => {
    const rule = { kind: "evaluation", key: "red_team_full", value: "passed" } as const;
    expect(evidenceLine(rule)).toBe("evaluation red_team_full passed");
    expect(parseEvidence(evidenceLine(rule))).toEqual(rule);
    const summary = policySummary({ stages: ["Production"], aliases: [], required_approvals: 1, approver_role: null, evidence: [rule] });
    expect(summary).toContain("evidence: evaluation red_team_full passed");
  });
});
