import { describe, expect, it } from "vitest";
import { aliasBodyOf, aliasDraftOf, aliasPolicySummary, type AliasPolicy } from "./aliasPolicy";

const policy: AliasPolicy = {
  model_name: "churn",
  latest: true,
  latest_alias: "latest",
  best_metric: "val_loss",
  best_direction: "min",
  best_alias: "best",
  updated_at: 1,
  updated_by: "bob",
};

describe("alias policy summary", () => {
  it("names the aliases and the rule behind each", () => {
    expect(aliasPolicySummary(policy)).toBe("Cairn keeps @latest on the newest version and @best on the version whose run has the lowest val_loss.");
    expect(aliasPolicySummary({ ...policy, latest: false, best_direction: "max", best_metric: "f1", best_alias: "top" })).toBe(
      "Cairn keeps @top on the version whose run has the highest f1.",
    );
    expect(aliasPolicySummary({ ...policy, best_metric: null })).toBe("Cairn keeps @latest on the newest version.");
  });
});

describe("alias policy form", () => {
  it("starts from the policy, or from latest on for a new one", () => {
    expect(aliasDraftOf(null)).toEqual({ latest: true, latest_alias: "latest", best: false, best_metric: "", best_direction: "max", best_alias: "best" });
    expect(aliasDraftOf(policy)).toMatchObject({ best: true, best_metric: "val_loss", best_direction: "min" });
  });
  it("makes a body, trimming and defaulting the names", () => {
    const draft = { ...aliasDraftOf(null), best: true, best_metric: " test_f1 ", latest_alias: " " };
    expect(aliasBodyOf(draft)).toEqual({
      body: { latest: true, latest_alias: "latest", best_metric: "test_f1", best_direction: "max", best_alias: "best" },
    });
    expect(aliasBodyOf({ ...draft, best: false })).toEqual({
      body: { latest: true, latest_alias: "latest", best_metric: null, best_direction: "max", best_alias: "best" },
    });
  });
  it("says what is wrong", () => {
    const off = { ...aliasDraftOf(null), latest: false };
    expect(aliasBodyOf(off)).toEqual({ problems: ["Turn on latest, best or both"] });
    const bad = { ...aliasDraftOf(null), best: true, best_metric: "", best_alias: "latest" };
    expect(aliasBodyOf(bad)).toEqual({ problems: ["Best: name the metric", 'Best alias: "latest" is reserved', "The best alias must differ from the latest alias"] });
    expect(aliasBodyOf({ ...aliasDraftOf(null), latest_alias: "v2" })).toEqual({ problems: ['Latest alias: "v2" is reserved'] });
    expect(aliasBodyOf({ ...aliasDraftOf(null), latest_alias: "a b" })).toEqual({ problems: ['Latest alias: letters, digits, "_" or "-" (at most 255)'] });
  });
});
