import { describe, expect, it } from "vitest";
import {
  buildRows,
  columnWindow,
  defaultParallelFields,
  differs,
  formatValue,
  groupForBox,
  isNumericField,
  metricNumber,
  parallelAxes,
  parallelData,
  parseRunIds,
  singleStepMetric,
  quantile,
  scatterPoints,
  visibleRows,
  type CompareRun,
} from "./logic";

function run(id: string, params: Record<string, string>, metrics: Record<string, number | string>): CompareRun {
  return {
    run_id: id,
    run_name: `run-${id}`,
    experiment_id: "1",
    experiment_name: "e",
    status: "FINISHED",
    lifecycle_stage: "active",
    user_id: null,
    start_time: 1,
    end_time: 2,
    params,
    metrics,
    tags: {},
  };
}

const runs = [
  run("a", { lr: "0.1", opt: "adam", seed: "1" }, { acc: 0.8, loss: 0.5 }),
  run("b", { lr: "0.2", opt: "adam", seed: "1" }, { acc: 0.9, loss: 0.5 }),
  run("c", { lr: "0.1", opt: "sgd", seed: "1", extra: "x" }, { acc: 0.7, loss: "NaN" }),
];

describe("diff detection", () => {
  it("marks rows whose values differ; a run missing the key is no difference", () => {
    const rows = buildRows(runs);
    const byKey = Object.fromEntries(rows.map((r) => [`${r.kind}:${r.key}`, r]));
    expect(byKey["param:lr"].differs).toBe(true);
    expect(byKey["param:seed"].differs).toBe(false);
    expect(byKey["param:extra"].values).toEqual([null, null, "x"]);
    expect(byKey["param:extra"].differs).toBe(false);
    expect(byKey["param:extra"].present).toBe(1);
    expect(differs([null, 1, 2])).toBe(true);
    expect(differs([null, 1, 1])).toBe(false);
    expect(byKey["metric:loss"].differs).toBe(true);
    expect(rows.map((r) => r.kind)).toEqual(["param", "param", "param", "param", "metric", "metric"]);
  });

  it("treats NaN as equal to NaN and numbers by value", () => {
    expect(differs([Number.NaN, Number.NaN])).toBe(false);
    expect(differs([1, 1.0])).toBe(false);
    expect(differs(["1", 1])).toBe(true);
    expect(differs([])).toBe(false);
  });

  it("hides equal rows and filters by key", () => {
    const rows = buildRows(runs);
    expect(visibleRows(rows, true).map((r) => r.key)).toEqual(["lr", "opt", "acc", "loss"]);
    expect(visibleRows(rows, false)).toHaveLength(6);
    expect(visibleRows(rows, false, "LO").map((r) => r.key)).toEqual(["loss"]);
    expect(visibleRows(rows, true, "seed")).toEqual([]);
  });

  it("leaves out keys only one run has unless asked", () => {
    const rows = buildRows(runs);
    expect(visibleRows(rows, false, "", false).map((r) => r.key)).toEqual(["lr", "opt", "seed", "acc", "loss"]);
    expect(visibleRows(rows, false, "", true).map((r) => r.key)).toContain("extra");
    expect(visibleRows(buildRows(runs.slice(2)), false, "", false)).toHaveLength(6); // one run: every key
  });
});

describe("parallel axes", () => {
  it("uses value axes for numeric fields and category axes for the rest", () => {
    const axes = parallelAxes(runs, [
      { kind: "param", key: "lr" },
      { kind: "param", key: "opt" },
      { kind: "param", key: "extra" },
      { kind: "metric", key: "acc" },
    ]);
    expect(axes.map((a) => a.type)).toEqual(["value", "category", "category", "value"]);
    expect(axes[1].data).toEqual(["adam", "sgd"]);
    expect(axes[2].data).toEqual(["—", "x"]);
    expect(axes.map((a) => a.dim)).toEqual([0, 1, 2, 3]);
    expect(parallelData(runs, axes)).toEqual([
      [0.1, "adam", "—", 0.8],
      [0.2, "adam", "—", 0.9],
      [0.1, "sgd", "x", 0.7],
    ]);
  });

  it("picks differing fields first, params before metrics, within the limit", () => {
    const fields = defaultParallelFields(buildRows(runs), 4);
    expect(fields).toEqual([
      { kind: "param", key: "lr" },
      { kind: "param", key: "opt" },
      { kind: "metric", key: "acc" },
      { kind: "metric", key: "loss" },
    ]);
  });

  it("knows numeric fields", () => {
    expect(isNumericField(runs, { kind: "param", key: "lr" })).toBe(true);
    expect(isNumericField(runs, { kind: "param", key: "opt" })).toBe(false);
    expect(isNumericField(runs, { kind: "param", key: "absent" })).toBe(false);
    expect(isNumericField(runs, { kind: "metric", key: "loss" })).toBe(true); // NaN is left out
  });
});

describe("scatter and box plot", () => {
  it("pairs values and leaves out runs missing either", () => {
    expect(scatterPoints(runs, { kind: "param", key: "lr" }, { kind: "metric", key: "loss" })).toEqual([
      { x: 0.1, y: 0.5, runIndex: 0 },
      { x: 0.2, y: 0.5, runIndex: 1 },
    ]);
    expect(scatterPoints(runs, { kind: "param", key: "opt" }, { kind: "metric", key: "acc" })[2]).toEqual({ x: "sgd", y: 0.7, runIndex: 2 });
  });

  it("groups a metric by a param with quartiles", () => {
    const many = [1, 2, 3, 4, 5].map((v, i) => run(String(i), { opt: i < 4 ? "adam" : "sgd" }, { acc: v }));
    many.push(run("z", {}, { acc: 9 }));
    many.push(run("n", { opt: "adam" }, { acc: "NaN" }));
    const groups = groupForBox(many, "acc", "opt");
    expect(groups.map((g) => g.name)).toEqual(["—", "adam", "sgd"]);
    expect(groups[1].box).toEqual([1, 1.75, 2.5, 3.25, 4]);
    expect(groups[1].runIndexes).toEqual([0, 1, 2, 3]);
    expect(groups[2].box).toEqual([5, 5, 5, 5, 5]);
    expect(groups[0].values).toEqual([9]);
  });

  it("sorts groups naturally", () => {
    const r = ["10", "9", "100"].map((d) => run(d, { depth: d }, { acc: 1 }));
    expect(groupForBox(r, "acc", "depth").map((g) => g.name)).toEqual(["9", "10", "100"]);
  });

  it("computes quantiles", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([7], 0.25)).toBe(7);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });
});

describe("column window", () => {
  it("keeps the columns in view plus the overscan", () => {
    expect(columnWindow(0, 1000, 100, 100, 2)).toEqual({ first: 0, last: 12 });
    expect(columnWindow(2050, 1000, 100, 100, 2)).toEqual({ first: 18, last: 33 });
    expect(columnWindow(9500, 1000, 100, 100, 2)).toEqual({ first: 93, last: 100 });
    expect(columnWindow(0, 5000, 10, 100, 3)).toEqual({ first: 0, last: 10 });
    expect(columnWindow(0, 0, 0, 100, 3)).toEqual({ first: 0, last: 0 });
  });
});

describe("helpers", () => {
  it("knows metrics logged at step 0 only", () => {
    const a = { ...run("a", {}, { acc: 1, loss: 2 }), metric_steps: { acc: 0, loss: 9 } };
    const b = { ...run("b", {}, { acc: 2 }), metric_steps: { acc: 0 } };
    expect(singleStepMetric([a, b], "acc")).toBe(true);
    expect(singleStepMetric([a, b], "loss")).toBe(false);
    expect(singleStepMetric([run("c", {}, { acc: 1 })], "acc")).toBe(false); // no steps known
  });

  it("parses run ids", () => {
    expect(parseRunIds("a, b,,a,c")).toEqual(["a", "b", "c"]);
    expect(parseRunIds(null)).toEqual([]);
  });
  it("reads metric values", () => {
    expect(metricNumber("Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(metricNumber("NaN"))).toBe(true);
    expect(metricNumber(undefined)).toBeNull();
    expect(metricNumber(3)).toBe(3);
  });
  it("formats cells", () => {
    expect(formatValue(null)).toBe("—");
    expect(formatValue(0.123456789)).toBe("0.123457");
    expect(formatValue(1e-7)).toBe("1.0000e-7");
    expect(formatValue(Number.NaN)).toBe("NaN");
    expect(formatValue(5)).toBe("5");
  });
});
