import { describe, expect, it } from "vitest";
import type { Alert, Rule } from "./api";
import { bellLabel, bodyOf, condition, DraftError, EMPTY_DRAFT, scopeOf, subjectLink } from "./logic";

const rule: Rule = {
  id: "1",
  name: "loss high",
  kind: "threshold",
  experiment_id: "3",
  model_name: null,
  filter: "tags.team = 'lims'",
  metric: "val_loss",
  op: ">",
  value: 0.5,
  against: null,
  measure: null,
  direction: null,
  minutes: null,
  enabled: true,
  seeded: false,
  created_by: "alice",
  created_at: 1,
};

function fieldOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof DraftError ? e.field : "other";
  }
}

describe("rule drafts", () => {
  const draft = { ...EMPTY_DRAFT, name: "loss high", target: "3", metric: "val_loss", value: "0.5" };
  it("become the body of their kind only", () => {
    expect(bodyOf(draft)).toEqual({ name: "loss high", kind: "threshold", experiment_id: "3", metric: "val_loss", op: ">", value: 0.5 });
    expect(bodyOf({ ...draft, kind: "drop", value: "3", direction: "max", filter: " tags.team = 'lims' " })).toEqual({
      name: "loss high",
      kind: "drop",
      experiment_id: "3",
      filter: "tags.team = 'lims'",
      metric: "val_loss",
      value: 3,
      against: "best",
      measure: "percent",
      direction: "max",
    });
    expect(bodyOf({ ...draft, kind: "stalled", minutes: "15" })).toEqual({ name: "loss high", kind: "stalled", experiment_id: "3", minutes: 15 });
    expect(bodyOf({ ...draft, scope: "model", target: "churn", kind: "non_finite", filter: "ignored" })).toEqual({
      name: "loss high",
      kind: "non_finite",
      model_name: "churn",
      metric: "val_loss",
    });
  });
  it("name the field that is wrong", () => {
    expect(fieldOf(() => bodyOf({ ...draft, name: " " }))).toBe("name");
    expect(fieldOf(() => bodyOf({ ...draft, target: "abc" }))).toBe("target");
    expect(fieldOf(() => bodyOf({ ...draft, metric: "" }))).toBe("metric");
    expect(fieldOf(() => bodyOf({ ...draft, value: "lots" }))).toBe("value");
    expect(fieldOf(() => bodyOf({ ...draft, kind: "drop", value: "-1" }))).toBe("value");
    expect(fieldOf(() => bodyOf({ ...draft, kind: "stalled", minutes: "-5" }))).toBe("minutes");
    expect(fieldOf(() => bodyOf({ ...draft, scope: "model", target: "m", kind: "failed_run" }))).toBe("kind");
  });
});

describe("rules and alerts in words", () => {
  it("say the condition and the scope", () => {
    expect(condition(rule)).toBe("val_loss > 0.5");
    expect(condition({ ...rule, metric: "*", op: "<", value: 0.85 })).toBe("any metric < 0.85");
    expect(condition({ ...rule, kind: "drop", value: 3, measure: "percent", direction: "max", against: "best" })).toBe(
      "val_loss more than 3% below the best run",
    );
    expect(condition({ ...rule, kind: "drop", value: 0.1, measure: "absolute", direction: "min", against: "previous", model_name: "m" })).toBe(
      "val_loss more than 0.1 above the previous version",
    );
    expect(condition({ ...rule, kind: "stalled", minutes: 30 })).toBe("no metric for 30 min while RUNNING");
    expect(scopeOf(rule)).toBe("experiment 3 where tags.team = 'lims'");
    expect(scopeOf({ ...rule, experiment_id: null, model_name: "churn" })).toBe("model churn");
  });
  it("link the subject", () => {
    const alert = { subject_type: "model_version", subject_id: "a/b/7" } as Alert;
    expect(subjectLink(alert)).toBe("/models/a%2Fb/versions/7");
    expect(subjectLink({ ...alert, subject_type: "run", subject_id: "abc" })).toBe("/runs/abc");
  });
  it("label the bell", () => {
    expect(bellLabel(0)).toEqual({ label: "Alerts: none firing", badge: null });
    expect(bellLabel(3)).toEqual({ label: "Alerts: 3 firing", badge: "3" });
    expect(bellLabel(1000).badge).toBe("999+");
  });
});
