import { describe, expect, it } from "vitest";
import { entityLabel, entityLink, splitVersionId } from "./entity";

const ev = (entity_type: string, entity_id: string, extra: { experiment_id?: string; model_name?: string } = {}) => ({
  entity_type,
  entity_id,
  experiment_id: extra.experiment_id ?? null,
  model_name: extra.model_name ?? null,
});

describe("entity links", () => {
  it("splits a version id at its last slash", () => {
    expect(splitVersionId("churn/3")).toEqual({ name: "churn", version: "3" });
    expect(splitVersionId("team/churn/12")).toEqual({ name: "team/churn", version: "12" });
    expect(splitVersionId("churn")).toBeNull();
    expect(splitVersionId("churn/")).toBeNull();
  });
  it("links each entity to its page", () => {
    expect(entityLink(ev("run", "abc"))).toBe("/runs/abc");
    expect(entityLink(ev("experiment", "4"))).toBe("/experiments/4");
    expect(entityLink(ev("registered_model", "a b"))).toBe("/models/a%20b");
    expect(entityLink(ev("model_version", "team/churn/2"))).toBe("/models/team%2Fchurn/versions/2");
    expect(entityLink(ev("approval_request", "12", { model_name: "churn" }))).toBe("/models/churn");
    expect(entityLink(ev("permission", "x", { experiment_id: "3" }))).toBe("/experiments/3");
    expect(entityLink(ev("user", "dana"))).toBeNull();
  });
  it("names a run by its short id", () => {
    expect(entityLabel(ev("run", "0123456789abcdef0123456789abcdef"))).toBe("run 01234567");
    expect(entityLabel(ev("model_version", "churn/3"))).toBe("model version churn/3");
  });
});
