import { describe, expect, it } from "vitest";
import { parseProfile, sourceText } from "../../lib/profile";
import { sparkPaths } from "./Sparkline";
import { chartLink, chartSearch, parseChartState } from "../metrics/urlState";
import type { SeriesBuckets } from "../../charts/types";

describe("dataset profiles", () => {
  it("reads the profile shape the SDK logs", () => {
    const p = parseProfile(
      JSON.stringify({
        num_rows: 150,
        num_elements: 750,
        targets: "label",
        label_distribution: { setosa: 50, virginica: 60, versicolor: 40 },
        numeric: { x: { count: 150, nulls: 0, min: 1, max: 7.9, mean: 5.8, std: 0.8, p50: 5.8 } },
        text_length: { note: { count: 150, nulls: 2, min: 0, max: 80, mean: 12.5, p50: 10 } },
      }),
    )!;
    expect(p.numRows).toBe(150);
    expect(p.targets).toBe("label");
    expect(p.labels).toEqual([["virginica", 60], ["setosa", 50], ["versicolor", 40]]);
    expect(p.numeric[0]).toEqual(["x", { count: 150, nulls: 0, min: 1, max: 7.9, mean: 5.8, std: 0.8, p50: 5.8 }]);
    expect(p.textLength[0][1].std).toBeUndefined();
  });
  it("survives bad or foreign profiles", () => {
    expect(parseProfile(undefined)).toBeNull();
    expect(parseProfile("{not json")).toBeNull();
    expect(parseProfile("[1]")).toBeNull();
    const p = parseProfile(JSON.stringify({ num_rows: "many", label_distribution: null }))!;
    expect(p.numRows).toBeNull();
    expect(p.labels).toEqual([]);
  });
  it("shows the uri of a source", () => {
    expect(sourceText(JSON.stringify({ uri: "s3://b/k.csv" }))).toBe("s3://b/k.csv");
    expect(sourceText("plain")).toBe("plain");
    // MLflow's code source: its tags as pairs, not a JSON text
    expect(sourceText(JSON.stringify({ tags: { "mlflow.source.name": "train.py", "mlflow.source.type": "LOCAL" } }))).toBe(
      "mlflow.source.name: train.py · mlflow.source.type: LOCAL",
    );
    expect(sourceText({ path: "/data/x.csv" })).toBe("/data/x.csv");
    expect(sourceText(undefined)).toBe("");
  });
  it("shows a raw JSON source's fields as text, not as JSON", () => {
    expect(sourceText(JSON.stringify({ bucket: "lab", rows: 120 }))).toBe("bucket: lab · rows: 120");
    expect(sourceText({ tags: ["a", "b"] })).toBe('tags: ["a","b"]');
    expect(sourceText("[1,2]")).toBe("[1,2]");
  });
});

describe("sparklines", () => {
  const s: SeriesBuckets = {
    run_id: "r",
    key: "k",
    x_offset: 0,
    point_count: 3,
    nan_count: 0,
    pos_inf_count: 0,
    neg_inf_count: 0,
    x_first: [0, 5, 10],
    x_last: [0, 5, 10],
    min: [0, 5, 10],
    max: [0, 5, 10],
    mean: [0, 5, 10],
    count: [1, 1, 1],
  };
  it("spans the width and the value range", () => {
    const p = sparkPaths(s, 100, 24)!;
    expect(p.line).toBe("M1.0,23.0L50.0,12.0L99.0,1.0");
  });
  it("draws nothing for an empty series and a flat line for one point", () => {
    expect(sparkPaths({ ...s, x_first: [], x_last: [], min: [], max: [], mean: [], count: [] }, 100, 24)).toBeNull();
    const one = sparkPaths({ ...s, x_first: [3], x_last: [3], min: [2], max: [2], mean: [2], count: [1] }, 100, 24)!;
    expect(one.line).toBe("M0,12.0H100");
  });
});

describe("chart page URL", () => {
  it("round-trips its state", () => {
    const state = { runs: ["a", "b"], keys: ["loss"], axis: "relative" as const, smooth: 40, log: true, window: { min: 10, max: 20 } };
    expect(parseChartState(new URLSearchParams(chartSearch(state)))).toEqual(state);
    expect(chartSearch(state)).toBe("runs=a,b&keys=loss&x=relative&smooth=40&log=1&from=10&to=20");
  });
  it("ignores nonsense", () => {
    const s = parseChartState(new URLSearchParams("runs=a,,a&x=nope&smooth=999&from=5&to=1"));
    expect(s).toEqual({ runs: ["a"], keys: [], axis: "step", smooth: 100, log: false, window: null });
  });
  it("links to a chart", () => {
    expect(chartLink(["r"], ["a", "b"])).toBe("/metrics?runs=r&keys=a,b&x=step");
  });
});
