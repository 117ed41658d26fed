import { describe, expect, it } from "vitest";
import { actionVerb, diffRows, flatten, shorten, showValue } from "./diff";

describe("showValue", () => {
  it("shows scalars plainly, scalar lists joined, the rest as JSON", () => {
    expect(showValue("a b")).toBe("a b");
    expect(showValue(0.5)).toBe("0.5");
    expect(showValue(false)).toBe("false");
    expect(showValue(null)).toBe("null");
    expect(showValue(["loss", "acc"])).toBe("[loss, acc]");
    expect(showValue([0, 9])).toBe("[0, 9]");
    expect(showValue([{ a: 1 }])).toBe('[{"a":1}]');
    expect(showValue({})).toBe("{}");
  });
});

describe("flatten", () => {
  it("makes dotted keys of nested metadata", () => {
    const f = flatten({ tags: { team: "vision", "mlflow.note": "x" }, status: "FINISHED", metrics: { keys: ["loss"], count: 3 } });
    expect(Object.fromEntries(f)).toEqual({ "tags.team": "vision", "tags.mlflow.note": "x", status: "FINISHED", "metrics.keys": ["loss"], "metrics.count": 3 });
  });
  it("keeps empty objects and very deep ones as one value", () => {
    expect(Object.fromEntries(flatten({ tags: {} }))).toEqual({ tags: {} });
    expect(Object.fromEntries(flatten({ a: { b: { c: { d: 1 } } } }))).toEqual({ "a.b.c": { d: 1 } });
    expect(flatten(null).size).toBe(0);
  });
});

describe("diffRows", () => {
  it("a change of a field", () => {
    expect(diffRows({ status: "RUNNING" }, { status: "FINISHED", end_time: 5 })).toEqual([
      { key: "end_time", kind: "added", after: "5" },
      { key: "status", kind: "changed", before: "RUNNING", after: "FINISHED" },
    ]);
  });
  it("a deleted tag and a creation", () => {
    expect(diffRows({ tags: { team: "a" } }, null)).toEqual([{ key: "tags.team", kind: "removed", before: "a" }]);
    expect(diffRows(null, { name: "exp", tags: {} })).toEqual([
      { key: "name", kind: "added", after: "exp" },
      { key: "tags", kind: "added", after: "{}" },
    ]);
  });
  it("a batch: tags that changed and ones that are new, a value restated", () => {
    const rows = diffRows({ tags: { a: "1" } }, { tags: { a: "2", b: "3" }, params: { lr: "0.1" } });
    expect(rows.map((r) => [r.key, r.kind])).toEqual([
      ["params.lr", "added"],
      ["tags.a", "changed"],
      ["tags.b", "added"],
    ]);
    expect(diffRows({ stage: "None" }, { stage: "None" })[0].kind).toBe("same");
  });
  it("nothing to show for an event without metadata", () => {
    expect(diffRows(null, null)).toEqual([]);
  });
});

describe("shorten and actionVerb", () => {
  it("cuts long text with an ellipsis", () => {
    expect(shorten("abc", 5)).toBe("abc");
    expect(shorten("abcdefgh", 5)).toBe("abcd…");
  });
  it("names the verb of an action", () => {
    expect(actionVerb("run.set_tag")).toBe("set tag");
    expect(actionVerb("model_version.transition_stage")).toBe("transition stage");
    expect(actionVerb("login")).toBe("login");
  });
});
