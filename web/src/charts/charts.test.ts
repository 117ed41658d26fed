import { describe, expect, it } from "vitest";
import { alignTables, bucketsForWidth, mergeResponses, requestGroups, toPlotData } from "./data";
import { ema, sliderToWeight } from "./smoothing";
import { forLogScale, formatRelative, fromPlotX, parseAxis, selectionToWindow, toPlotX } from "./axes";
import type { DownsampleResponse, SeriesBuckets } from "./types";

function series(run: string, key: string, xs: [number, number][], min: number[], max: number[], mean: number[]): SeriesBuckets {
  return {
    run_id: run,
    key,
    x_offset: 0,
    point_count: xs.length,
    nan_count: 0,
    pos_inf_count: 0,
    neg_inf_count: 0,
    x_first: xs.map((x) => x[0]),
    x_last: xs.map((x) => x[1]),
    min,
    max,
    mean,
    count: xs.map(() => 1),
  };
}

function response(s: SeriesBuckets[], x: DownsampleResponse["x"] = "step"): DownsampleResponse {
  return { x, width: 100, bucket_count: 100, x_min: 0, x_max: 10, series: s };
}

describe("buckets to uPlot data", () => {
  it("puts each bucket at the middle of its x range, with mean, min and max columns", () => {
    const r = response([series("a", "loss", [[0, 1], [2, 3]], [1, 5], [2, 500], [1.5, 6])]);
    const p = toPlotData(r, { axis: "step", smoothing: 0, log: false });
    expect(p.data).toEqual([[0.5, 2.5], [1.5, 6], [1, 5], [2, 500]]);
    expect(p.series[0]).toMatchObject({ runId: "a", key: "loss", mean: 1, min: 2, max: 3 });
    expect(p.maxValue).toBe(500);
    expect(p.minValue).toBe(1);
  });

  it("aligns series with different x values on their union, gaps as null", () => {
    const a = series("a", "k", [[0, 0], [2, 2]], [1, 2], [1, 2], [1, 2]);
    const b = series("b", "k", [[1, 1], [2, 2]], [7, 8], [7, 8], [7, 8]);
    const p = toPlotData(response([a, b]), { axis: "step", smoothing: 0, log: false });
    expect(p.data[0]).toEqual([0, 1, 2]);
    expect(p.data[1]).toEqual([1, null, 2]);
    expect(p.data[4]).toEqual([null, 7, 8]);
    expect(p.series[1]).toMatchObject({ runId: "b", mean: 4, min: 5, max: 6 });
  });

  it("keeps identical x arrays as they are", () => {
    expect(alignTables([{ x: [1, 2], cols: [[3, 4]] }, { x: [1, 2], cols: [[5, 6]] }])).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  it("converts time axes to seconds and smooths only the mean", () => {
    const r = response([series("a", "k", [[1000, 3000], [4000, 4000]], [0, 10], [2, 10], [1, 10])], "wall");
    const p = toPlotData(r, { axis: "wall", smoothing: 0.5, log: false });
    expect(p.data[0]).toEqual([2, 4]);
    expect(p.data[1]).toEqual([1, (0.5 * 0.5 * 1 + 0.5 * 10) / 0.75]);
    expect(p.data[3]).toEqual([2, 10]);
  });

  it("turns values a log scale cannot draw into gaps", () => {
    const r = response([series("a", "k", [[0, 0], [1, 1]], [-1, 2], [0, 3], [0, 2.5])]);
    const p = toPlotData(r, { axis: "step", smoothing: 0, log: true });
    expect(p.data.slice(1)).toEqual([[null, 2.5], [null, 2], [null, 3]]);
  });
});

describe("EMA smoothing", () => {
  it("is the identity at weight 0", () => {
    expect(ema([1, 2, 3], 0)).toEqual([1, 2, 3]);
  });
  it("is debiased: a constant series stays constant", () => {
    for (const v of ema([4, 4, 4, 4], 0.9)) expect(v).toBeCloseTo(4, 12);
  });
  it("follows s = w*s + (1-w)*x with debiasing, keeping gaps", () => {
    const out = ema([0, null, 10], 0.5);
    expect(out[0]).toBe(0);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeCloseTo(5 / 0.75, 12);
  });
  it("maps the slider to weights in [0, 0.99]", () => {
    expect(sliderToWeight(0)).toBe(0);
    expect(sliderToWeight(100)).toBe(0.99);
    expect(sliderToWeight(50)).toBeCloseTo(0.495, 6);
    expect(sliderToWeight(-5)).toBe(0);
    expect(sliderToWeight(NaN)).toBe(0);
  });
});

describe("axes", () => {
  it("plots steps as they are and milliseconds as seconds", () => {
    expect(toPlotX("step", 42)).toBe(42);
    expect(toPlotX("wall", 1500)).toBe(1.5);
    expect(fromPlotX("relative", 1.5)).toBe(1500);
  });
  it("turns a drag selection into a server window, widened to whole units", () => {
    expect(selectionToWindow("step", 10.4, 20.2)).toEqual({ min: 10, max: 21 });
    expect(selectionToWindow("step", 20.2, 10.4)).toEqual({ min: 10, max: 21 });
    expect(selectionToWindow("wall", 1.2345, 2.5)).toEqual({ min: 1234, max: 2500 });
    expect(selectionToWindow("step", 3, 3)).toBeNull();
    expect(selectionToWindow("step", NaN, 3)).toBeNull();
  });
  it("formats relative time", () => {
    expect(formatRelative(5)).toBe("5s");
    expect(formatRelative(75)).toBe("1m 15s");
    expect(formatRelative(3723)).toBe("1h 02m 03s");
    expect(formatRelative(-30)).toBe("-30s");
  });
  it("parses the axis from the URL, step by default", () => {
    expect(parseAxis("wall")).toBe("wall");
    expect(parseAxis("bogus")).toBe("step");
    expect(parseAxis(null)).toBe("step");
  });
  it("leaves data alone without log scale", () => {
    expect(forLogScale([-1, 0, 2], false)).toEqual([-1, 0, 2]);
  });
});

describe("requests", () => {
  it("asks for one bucket per pixel, in steps of 100, at most 5000", () => {
    expect(bucketsForWidth(0)).toBe(100);
    expect(bucketsForWidth(1234)).toBe(1300);
    expect(bucketsForWidth(9000)).toBe(5000);
  });
  it("splits runs x keys into requests of at most 100 series", () => {
    const runs = Array.from({ length: 30 }, (_, i) => `r${i}`);
    const groups = requestGroups(runs, ["a", "b", "c", "d"], 100);
    expect(groups.every((g) => g.runs.length * g.keys.length <= 100)).toBe(true);
    expect(groups.reduce((n, g) => n + g.runs.length * g.keys.length, 0)).toBe(120);
    expect(requestGroups([], ["a"], 100)).toEqual([]);
  });
  it("merges split answers in run-major order", () => {
    const a = response([series("r2", "k", [[0, 0]], [1], [1], [1])]);
    const b = response([series("r1", "k", [[5, 5]], [2], [2], [2])]);
    b.x_max = 50;
    const m = mergeResponses([a, b], ["r1", "r2"], ["k"])!;
    expect(m.series.map((s) => s.run_id)).toEqual(["r1", "r2"]);
    expect(m.x_max).toBe(50);
  });
});
