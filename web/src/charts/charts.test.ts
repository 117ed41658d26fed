import { describe, expect, it } from "vitest";
import { alignTables, bucketsForWidth, mergeResponses, requestGroups, toPlotData } from "./data";
import { ema, sliderToWeight } from "./smoothing";
import { forLogScale, formatRelative, formatRelativeTick, fromPlotX, parseAxis, RELATIVE_INCRS, selectionToWindow, toPlotX, toWindow } from "./axes";
import { chartKeyAction, describeWindow, stepWindow } from "./zoom";
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
  it("rounds a range on the server's axis outwards to whole units", () => {
    expect(toWindow(10.4, 20.2)).toEqual({ min: 10, max: 21 });
    expect(toWindow(20, 10)).toEqual({ min: 10, max: 20 });
    expect(toWindow(7, 7)).toBeNull();
    expect(toWindow(0, Infinity)).toBeNull();
  });
  it("formats relative time", () => {
    expect(formatRelative(5)).toBe("5s");
    expect(formatRelative(75)).toBe("1m 15s");
    expect(formatRelative(3723)).toBe("1h 02m 03s");
    expect(formatRelative(-30)).toBe("-30s");
  });
  it("labels relative ticks with their non-zero units only", () => {
    expect(formatRelativeTick(0)).toBe("0s");
    expect(formatRelativeTick(300)).toBe("5m");
    expect(formatRelativeTick(5400)).toBe("1h 30m");
    expect(formatRelativeTick(2 * 86_400 + 4 * 3_600)).toBe("2d 4h");
    expect(formatRelativeTick(-120)).toBe("-2m");
    expect(RELATIVE_INCRS).toContain(900);
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

describe("keyboard zoom", () => {
  const all = { min: 0, max: 1000 };
  const key = (k: string, mods: Partial<Record<"ctrlKey" | "metaKey" | "altKey", boolean>> = {}) =>
    chartKeyAction({ key: k, ctrlKey: false, metaKey: false, altKey: false, ...mods });

  it("maps keys to actions, leaving the browser's Ctrl/Cmd/Alt shortcuts alone", () => {
    expect(["+", "=", "-", "ArrowLeft", "ArrowRight", "0", "Escape"].map((k) => key(k))).toEqual([
      "in",
      "in",
      "out",
      "left",
      "right",
      "reset",
      "reset",
    ]);
    expect(key("a")).toBeNull();
    expect(key("ArrowUp")).toBeNull();
    expect(key("+", { ctrlKey: true })).toBeNull();
    expect(key("0", { metaKey: true })).toBeNull();
    expect(key("-", { altKey: true })).toBeNull();
  });

  it("zooms in around the centre, halving the width, from the whole range or a window", () => {
    expect(stepWindow("in", null, all)).toEqual({ min: 250, max: 750 });
    expect(stepWindow("in", { min: 100, max: 300 }, all)).toEqual({ min: 150, max: 250 });
    // odd widths round outwards to whole units, as a drag selection does
    expect(stepWindow("in", { min: 0, max: 5 }, all)).toEqual({ min: 1, max: 4 });
  });

  it("stops zooming in when the window cannot get narrower", () => {
    const narrow = { min: 10, max: 12 };
    expect(stepWindow("in", narrow, all)).toBe(narrow);
    expect(stepWindow("in", null, { min: 5, max: 6 })).toBeNull();
  });

  it("zooms out by doubling the width, kept inside the data, the whole range being no window", () => {
    expect(stepWindow("out", { min: 400, max: 500 }, all)).toEqual({ min: 350, max: 550 });
    expect(stepWindow("out", { min: 0, max: 100 }, all)).toEqual({ min: 0, max: 200 });
    expect(stepWindow("out", { min: 950, max: 1000 }, all)).toEqual({ min: 900, max: 1000 });
    expect(stepWindow("out", { min: 250, max: 750 }, all)).toBeNull();
    expect(stepWindow("out", { min: 100, max: 700 }, all)).toBeNull();
    expect(stepWindow("out", null, all)).toBeNull();
  });

  it("zooming in and then out comes back to the whole range", () => {
    let w = stepWindow("in", stepWindow("in", null, all), all);
    expect(w).toEqual({ min: 375, max: 625 });
    w = stepWindow("out", stepWindow("out", w, all), all);
    expect(w).toBeNull();
  });

  it("pans by a quarter of the width, stopping at the ends of the data", () => {
    expect(stepWindow("left", { min: 400, max: 600 }, all)).toEqual({ min: 350, max: 550 });
    expect(stepWindow("right", { min: 400, max: 600 }, all)).toEqual({ min: 450, max: 650 });
    expect(stepWindow("left", { min: 20, max: 220 }, all)).toEqual({ min: 0, max: 200 });
    expect(stepWindow("right", { min: 850, max: 990 }, all)).toEqual({ min: 860, max: 1000 });
    const atEnd = { min: 900, max: 1000 };
    expect(stepWindow("right", atEnd, all)).toBe(atEnd);
    // at least one unit, so a narrow window still moves
    expect(stepWindow("right", { min: 10, max: 11 }, all)).toEqual({ min: 11, max: 12 });
    // the whole range has nowhere to go
    expect(stepWindow("left", null, all)).toBeNull();
  });

  it("works in milliseconds on the time axes", () => {
    const wall = { min: 1_700_000_000_000, max: 1_700_000_100_000 };
    expect(stepWindow("in", null, wall)).toEqual({ min: 1_700_000_025_000, max: 1_700_000_075_000 });
    expect(stepWindow("right", { min: 1_700_000_090_000, max: 1_700_000_099_000 }, wall)).toEqual({
      min: 1_700_000_091_000,
      max: 1_700_000_100_000,
    });
  });

  it("first clips a window that reaches outside the data (a hand-edited URL)", () => {
    expect(stepWindow("in", { min: -500, max: 200 }, all)).toEqual({ min: 50, max: 150 });
    expect(stepWindow("out", { min: -500, max: 2000 }, all)).toBeNull();
    expect(stepWindow("in", { min: 5000, max: 6000 }, all)).toEqual({ min: 250, max: 750 });
    expect(stepWindow("in", { min: 100.5, max: 300.5 }, all)).toEqual({ min: 150, max: 251 });
  });

  it("changes nothing without data", () => {
    const w = { min: 1, max: 9 };
    expect(stepWindow("in", w, null)).toBe(w);
    expect(stepWindow("out", null, null)).toBeNull();
  });

  it("describes the window for screen readers", () => {
    expect(describeWindow("step", null)).toBe("Whole range");
    expect(describeWindow("step", { min: 100, max: 250 })).toBe("Step 100 to 250");
    expect(describeWindow("relative", { min: 5000, max: 75000 })).toBe("Relative time 5s to 1m 15s");
  });
});
