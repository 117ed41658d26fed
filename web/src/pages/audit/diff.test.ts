import { describe, expect, it } from "vitest";
import { formatTimestamp } from "../../lib/format";
import { actionVerb, diffRows, flatten, metricSummary, shorten, showField, showValue } from "./diff";

describe("showValue", () => {
  it("shows scalars plainly, scalar lists joined, the rest as JSON", () => {
    expect(showValue("a b")).toBe("a b");
    expect(showValue(0.5)).toBe("0.5");
    expect(showValue(false)).toBe("false");
    expect(showValue(null)).toBe("—");
    expect(showValue(["loss", "acc"])).toBe("[loss, acc]");
    expect(showValue([0, 9])).toBe("[0, 9]");
    expect(showValue([{ a: 1 }])).toBe('[{"a":1}]');
    expect(showValue({})).toBe("{}");
    // a promotion policy's evidence rules
    expect(showValue([{ key: "reviewed", kind: "tag", value: "yes" }, { kind: "metric", key: "f1", op: ">=", value: 0.85 }])).toBe("tag reviewed = yes; metric f1 >= 0.85");
  });
});

describe("flatten", () => {
  it("makes dotted keys of nested metadata", () => {
    const f = flatten({ tags: { team: "vision", "mlflow.note": "x" }, status: "FINISHED", model_metrics: { count: 2 } });
    expect(Object.fromEntries(f)).toEqual({ "tags.team": "vision", "tags.mlflow.note": "x", status: "FINISHED", "model_metrics.count": 2 });
  });
  it("keeps empty objects and very deep ones as one value", () => {
    expect(Object.fromEntries(flatten({ tags: {} }))).toEqual({ tags: {} });
    expect(Object.fromEntries(flatten({ a: { b: { c: { d: 1 } } } }))).toEqual({ "a.b.c": { d: 1 } });
    expect(flatten(null).size).toBe(0);
  });
});

describe("a log-batch's metrics and times", () => {
  it("summarise the metrics of a batch in one phrase", () => {
    expect(metricSummary({ keys: ["loss", "acc"], count: 20, steps: [0, 9] })).toBe("20 points of loss, acc at steps 0–9");
    expect(metricSummary({ keys: ["m0"], count: 1, steps: [3, 3] })).toBe("1 point of m0 at step 3");
    expect(metricSummary({ other: 1 })).toEqual({ other: 1 });
    expect(Object.fromEntries(flatten({ metrics: { keys: ["loss"], count: 3, steps: [0, 2] } }))).toEqual({ metrics: "3 points of loss at steps 0–2" });
  });
  it("show times in ms as dates, other numbers as numbers", () => {
    const t = Date.UTC(2026, 11, 4, 10, 0);
    expect(showField("end_time", t)).toBe(formatTimestamp(t));
    expect(showField("updated_at", t)).toBe(formatTimestamp(t));
    expect(showField("creation_timestamp", t)).toBe(formatTimestamp(t));
    expect(showField("max_results", t)).toBe(String(t));
    expect(showField("start_time", 5)).toBe("5"); // not plausibly a time
  });
});

describe("diffRows", () => {
  it("a change of a field; a field set from null is added", () => {
    const t = Date.UTC(2026, 11, 4, 10, 0);
    expect(diffRows({ status: "RUNNING", end_time: null }, { status: "FINISHED", end_time: t })).toEqual([
      { key: "end_time", kind: "added", after: formatTimestamp(t) },
      { key: "status", kind: "changed", before: "RUNNING", after: "FINISHED" },
    ]);
  });
  it("a field cleared is removed; null on both sides is nothing new", () => {
    expect(diffRows({ description: "old" }, { description: null })).toEqual([{ key: "description", kind: "removed", before: "old" }]);
    expect(diffRows(null, { user_id: null })[0].kind).toBe("same");
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
