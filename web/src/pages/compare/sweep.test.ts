import { describe, expect, it } from "vitest";
import type { CompareRun } from "./logic";
import { boxParam, correlation, scatterParam, sweepDefaults, sweepMetric } from "./sweep";

function run(i: number, params: Record<string, string>, metrics: Record<string, number>): CompareRun {
  return {
    run_id: `r${i}`,
    run_name: `run-${i}`,
    experiment_id: "1",
    experiment_name: null,
    status: "FINISHED",
    lifecycle_stage: "active",
    user_id: null,
    start_time: null,
    end_time: null,
    params,
    metrics,
    tags: {},
  } as CompareRun;
}

// a sweep over max_depth (which moves F1) and seed (which does not); "aaa_const" is the
// alphabetically first param and constant, "a_count" the first metric and only on one run
const SWEEP = [2, 4, 6, 8, 10, 12].map((depth, i) =>
  run(
    i,
    { aaa_const: "x", max_depth: String(depth), seed: String((i * 7) % 5), criterion: i % 2 ? "gini" : "entropy", n_jobs: "4" },
    { ...(i === 0 ? { a_count: 5 } : {}), test_f1: 0.6 + depth / 40, train_accuracy: 0.9 + (i % 2) / 100, "system/cpu": 40 + i, loss: 1 - depth / 20 },
  ),
);

describe("a sweep's scatter and box plot start on a useful pair", () => {
  it("plots the objective against the param that moves it", () => {
    expect(sweepMetric(SWEEP)).toBe("test_f1");
    expect(scatterParam(SWEEP, "test_f1")).toBe("max_depth");
    const d = sweepDefaults(SWEEP);
    expect(d.x).toEqual({ kind: "param", key: "max_depth" });
    expect(d.y).toEqual({ kind: "metric", key: "test_f1" });
  });
  it("groups the box plot by a param of a few values, the one whose groups differ most", () => {
    // max_depth and seed take a value per run or nearly: no boxes to draw; criterion has 2
    expect(boxParam(SWEEP, "test_f1")).toBe("criterion");
    // 12 runs over 3 depths × 2 criteria: depth moves test_f1, criterion does not
    const grid = Array.from({ length: 12 }, (_, i) =>
      run(i, { max_depth: String(2 + (i % 3) * 4), criterion: i % 2 ? "gini" : "entropy" }, { test_f1: 0.7 + (i % 3) / 10 + (i % 2) / 1000 }),
    );
    expect(boxParam(grid, "test_f1")).toBe("max_depth");
    expect(boxParam(grid, "test_f1", 2)).toBe("criterion"); // max_depth has too many groups
  });
  it("skips constant params and metrics one run has", () => {
    const runs: CompareRun[] = SWEEP.map((r) => ({ ...r, metrics: { a_count: 1, other: Number(r.params.max_depth) } }));
    runs[0]!.metrics = { other: 2 };
    expect(sweepMetric(runs)).toBe("other");
    expect(scatterParam(runs, "other")).toBe("max_depth");
  });
  it("has nothing to suggest for runs without params or metrics", () => {
    expect(sweepDefaults([run(1, {}, {})])).toEqual({ metric: null, x: null, y: null, boxParam: null });
  });
  it("measures correlation", () => {
    expect(correlation([[1, 2], [2, 4], [3, 6]])).toBeCloseTo(1);
    expect(correlation([[1, 5], [2, 5], [3, 5]])).toBe(0);
  });
});
