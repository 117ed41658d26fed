import { describe, expect, it } from "vitest";
import type { Run } from "../../api/types";
import { bucketsForSeries } from "../../charts/data";
import { chartRuns, chartSections, DEFAULT_SETTINGS, keyMatcher, parseSettings } from "./chartView";
import { aggregate, groupFilter, groupRuns, NO_VALUE } from "./groups";
import { parsePrefs, pinnedFirst, runColor, toggled, EMPTY_PREFS } from "./runPrefs";
import { runRow } from "./runRow";
import { applyView, saveView, viewQuery } from "./savedViews";

function run(id: string, params: Record<string, string>, metrics: Record<string, number | string>, tags: Record<string, string> = {}): Run {
  return {
    info: { run_id: id, run_uuid: id, experiment_id: "1", run_name: id, status: "FINISHED", start_time: 0, lifecycle_stage: "active", artifact_uri: "" },
    data: {
      params: Object.entries(params).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: 0, step: 0 })),
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    },
  } as unknown as Run;
}

describe("chart view", () => {
  it("splits system metrics into their own section and filters by the search box", () => {
    const keys = ["accuracy", "loss", "system/cpu", "system/gpu_0_memory", "val_loss"];
    expect(chartSections(keys, null, "")).toEqual({ model: ["accuracy", "loss", "val_loss"], system: ["system/cpu", "system/gpu_0_memory"] });
    expect(chartSections(keys, ["loss", "system/cpu"], "")).toEqual({ model: ["loss"], system: ["system/cpu"] });
    expect(chartSections(keys, null, "LOSS")).toEqual({ model: ["loss", "val_loss"], system: [] });
    expect(chartSections(keys, null, "system gpu")).toEqual({ model: [], system: ["system/gpu_0_memory"] });
    expect(chartSections(keys, null, "/^val_/")).toEqual({ model: ["val_loss"], system: [] });
  });
  it("never throws on a bad regular expression in the search box", () => {
    expect(keyMatcher("/(/")("x")).toBe(false);
    expect(keyMatcher("   ")("anything")).toBe(true);
  });
  it("draws the selection, else the filter's runs: pinned first, hidden left out, at most the limit", () => {
    const ordered = ["a", "b", "c", "d", "e"];
    expect(chartRuns(ordered, [], [], [], 3)).toEqual({ runs: ["a", "b", "c"], candidates: ordered });
    expect(chartRuns(ordered, [], ["e", "zz"], ["a"], 3).runs).toEqual(["e", "b", "c"]);
    expect(chartRuns(ordered, ["d", "b"], ["e"], [], 10)).toEqual({ runs: ["b", "d"], candidates: ["b", "d"] });
  });
  it("reads remembered settings defensively", () => {
    expect(parseSettings(null)).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings("{not json")).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings(JSON.stringify({ columns: 2, metrics: ["loss", 3], axis: "wall", maxRuns: 250 }))).toEqual({ columns: 2, metrics: ["loss"], axis: "wall", maxRuns: 250 });
    expect(parseSettings(JSON.stringify({ columns: 99, maxRuns: 7, axis: "<script>" }))).toEqual(DEFAULT_SETTINGS);
  });
  it("asks fewer buckets per series for many runs, within the batch bound", () => {
    expect(bucketsForSeries(600, 2)).toBe(600);
    expect(bucketsForSeries(600, 100)).toBe(100);
    expect(bucketsForSeries(600, 1000)).toBe(20);
    expect(bucketsForSeries(600, 100_000)).toBe(20);
    expect(bucketsForSeries(600, 1000) * 1000).toBeLessThanOrEqual(500_000);
  });
});

describe("run prefs", () => {
  it("keeps a run's colour stable, or the chosen one", () => {
    const c = runColor(EMPTY_PREFS, "abc123");
    expect(c).toMatch(/^#[0-9a-f]{6}$/i);
    expect(runColor(EMPTY_PREFS, "abc123")).toBe(c);
    expect(runColor({ ...EMPTY_PREFS, colors: { abc123: "#123456" } }, "abc123")).toBe("#123456");
  });
  it("drops malformed stored prefs", () => {
    expect(parsePrefs("[1,2]")).toEqual(EMPTY_PREFS);
    expect(parsePrefs(JSON.stringify({ colors: { a: "red", b: "#00ff00" }, pinned: ["x", 1], hidden: "y" }))).toEqual({ colors: { b: "#00ff00" }, pinned: ["x"], hidden: [] });
  });
  it("orders pinned runs first, in pin order", () => {
    expect(pinnedFirst(["a", "b", "c", "d"], (x) => x, ["d", "b"])).toEqual(["d", "b", "a", "c"]);
    expect(toggled(["a"], "a")).toEqual([]);
    expect(toggled(["a"], "b")).toEqual(["a", "b"]);
  });
});

describe("grouping", () => {
  const rows = [
    run("1", { opt: "adam" }, { loss: 1, acc: 0.5 }),
    run("2", { opt: "adam" }, { loss: 3 }),
    run("3", { opt: "sgd" }, { loss: 2, acc: "NaN" }),
    run("4", {}, { loss: 9 }, { team: "x" }),
  ].map(runRow);
  it("groups by a param with mean, min or max of each metric", () => {
    const g = groupRuns(rows, "params.opt", ["loss", "acc"], "mean");
    expect(g.map((x) => [x.value, x.runs.length, x.missing])).toEqual([
      ["adam", 2, false],
      ["sgd", 1, false],
      [NO_VALUE, 1, true],
    ]);
    expect(g[0].metrics.get("loss")).toEqual({ value: 2, count: 2 });
    expect(g[0].metrics.get("acc")).toEqual({ value: 0.5, count: 1 });
    expect(g[1].metrics.get("acc")).toEqual({ value: null, count: 0 }); // NaN is no number to average
    expect(groupRuns(rows, "params.opt", ["loss"], "max")[0].metrics.get("loss")?.value).toBe(3);
    expect(groupRuns(rows, "params.opt", ["loss"], "min")[0].metrics.get("loss")?.value).toBe(1);
  });
  it("groups by a tag, never by a metric", () => {
    expect(groupRuns(rows, "tags.team", [], "mean").map((x) => x.value)).toEqual(["x", NO_VALUE]);
    expect(groupRuns(rows, "metrics.loss", [], "mean")).toEqual([]);
  });
  it("aggregates, and filters one group with quotes escaped", () => {
    expect(aggregate([], "mean")).toBeNull();
    expect(aggregate([1, 2, 6], "mean")).toBe(3);
    expect(groupFilter("params.opt", "it's")).toBe("params.opt = 'it\\'s'");
    expect(groupFilter("tags.my team", "a")).toBe("tags.`my team` = 'a'");
  });
});

describe("saved views", () => {
  it("saves the view's part of the URL and opens it again in place of the current one", () => {
    const params = new URLSearchParams("q=metrics.loss<1&cols=metrics.loss&sel=abc&group=params.opt&agg=max&mode=charts&other=1");
    const query = viewQuery(params);
    expect(new URLSearchParams(query).get("sel")).toBeNull();
    const saved = saveView([], { name: "  best  ", query });
    expect(Array.isArray(saved) && saved[0].name).toBe("best");
    const opened = applyView(new URLSearchParams("q=other&sel=x&other=1"), { name: "best", query });
    expect(opened.get("q")).toBe("metrics.loss<1");
    expect(opened.get("group")).toBe("params.opt");
    expect(opened.get("sel")).toBeNull();
    expect(opened.get("other")).toBe("1");
    expect(opened.get("view")).toBe("best");
  });
  it("refuses blank and over-long names, replaces one of the same name", () => {
    expect(saveView([], { name: " ", query: "" })).toBe("Name the view");
    expect(typeof saveView([], { name: "x".repeat(101), query: "" })).toBe("string");
    expect(saveView([{ name: "a", query: "q=1" }], { name: "a", query: "q=2" })).toEqual([{ name: "a", query: "q=2" }]);
  });
});
