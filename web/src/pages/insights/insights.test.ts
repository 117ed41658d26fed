import { describe, expect, it } from "vitest";
import { createElement } from "react";
import type { ChartColors } from "../../viz/theme";
import {
  degradationText,
  durationText,
  experimentTrend,
  flagged,
  startLabelCut,
  modelTrend,
  statusEntries,
  trendOption,
  type ExperimentInsights,
  type ModelTrend,
} from "./logic";
import { DegradationFlag, InsightFigures } from "./widgets";

const COLORS: ChartColors = { text: "#111", muted: "#666", border: "#ddd", surface: "#fff", accent: "#27c", dark: false };

const SUMMARY: ExperimentInsights = {
  experiment_id: "1",
  name: "ML Security Training",
  run_count: 4,
  status_counts: { FAILED: 1, FINISHED: 2, RUNNING: 1 },
  duration: { count: 2, min_ms: 30_000, median_ms: 30_000, p90_ms: 60_000, max_ms: 60_000, mean_ms: 45_000 },
  best_runs: [
    { metric: "acc", direction: "max", run_id: "a".repeat(32), run_name: "three", value: 0.95, step: 3 },
    { metric: "loss", direction: "min", run_id: "b".repeat(32), run_name: null, value: 0.3, step: 3 },
  ],
  trend: {
    metrics: [
      { key: "acc", direction: "max", guessed: true },
      { key: "loss", direction: "min", guessed: true },
    ],
    points: [
      { run_id: "c".repeat(32), run_name: "one", start_time: 1_000, values: { acc: 0.8, loss: 0.5 } },
      { run_id: "d".repeat(32), run_name: "two", start_time: 2_000, values: { loss: 0.3 } },
    ],
    total_runs: 2,
    stride: 1,
  },
};

const TREND: ModelTrend = {
  metrics: [
    { key: "eval_f1", direction: "max", guessed: true },
    { key: "eval_loss", direction: "min", guessed: false },
  ],
  series: {
    eval_f1: [
      { version: 1, value: 0.89 },
      { version: 2, value: 0.91 },
      { version: 3, value: 0.84 },
    ],
    eval_loss: [
      { version: 1, value: 0.3 },
      { version: 3, value: 0.26 },
    ],
  },
  threshold: 0.05,
  degraded: true,
  degradations: [
    { metric: "eval_f1", direction: "max", best_version: 2, best_value: 0.91, newest_version: 3, newest_value: 0.84, relative_drop: 0.0769, degraded: true },
    { metric: "eval_loss", direction: "min", best_version: 3, best_value: 0.26, newest_version: 3, newest_value: 0.26, relative_drop: 0, degraded: false },
  ],
};

interface Node {
  type: unknown;
  props: Record<string, unknown> & { children?: unknown };
}

/** The markup a component returns, as text: our own function components are called (they
 * use no hooks), other components (react-router's Link) are written as `<Link to=…>`. */
function render(element: unknown): string {
  if (element === null || element === undefined || typeof element === "boolean") return "";
  if (typeof element === "string" || typeof element === "number") return String(element);
  if (Array.isArray(element)) return element.map(render).join("");
  const node = element as Node;
  if (node.type === InsightFigures || node.type === DegradationFlag) {
    return render((node.type as (p: unknown) => unknown)(node.props));
  }
  const name = typeof node.type === "string" ? node.type : ((node.type as { name?: string }).name ?? "Component");
  const attrs = Object.entries(node.props)
    .filter(([k, v]) => k !== "children" && (typeof v === "string" || typeof v === "number"))
    .map(([k, v]) => ` ${k === "to" ? "href" : k}="${v}"`)
    .join("");
  return `<${name}${attrs}>${render(node.props.children)}</${name}>`;
}

describe("insight figures", () => {
  it("orders statuses as people read them and sums durations up", () => {
    expect(statusEntries({ FAILED: 1, FINISHED: 2, RUNNING: 1, ODD: 3 })).toEqual([
      ["RUNNING", 1],
      ["FINISHED", 2],
      ["FAILED", 1],
      ["ODD", 3],
    ]);
    expect(durationText(SUMMARY.duration)).toBe("median 30s · p90 1m 00s · 30s – 1m 00s (2 finished)");
    expect(durationText({ count: 0, min_ms: null, median_ms: null, p90_ms: null, max_ms: null, mean_ms: null })).toBe("");
  });

  it("renders counts, durations and the best runs with links", () => {
    const html = render(createElement(InsightFigures, { data: SUMMARY }));
    expect(html).toContain('data-testid="status-FINISHED"');
    expect(html.indexOf("running")).toBeLessThan(html.indexOf("failed"));
    expect(html).toContain("Duration: median 30s");
    expect(html).toContain(`href="/runs/${"a".repeat(32)}"`);
    expect(html).toContain(">three<");
    expect(html).toContain(">bbbbbbbb<"); // no name: the id's start
    expect(html).toContain("0.95");
  });

  it("says so when there are no runs", () => {
    const empty = { ...SUMMARY, run_count: 0, status_counts: {}, best_runs: [], duration: { ...SUMMARY.duration, count: 0 } };
    const html = render(createElement(InsightFigures, { data: empty }));
    expect(html).toContain("No runs yet");
    expect(html).not.toContain("best-runs");
  });
});

describe("degradation flag", () => {
  it("names the metric, the best and the newest version", () => {
    expect(flagged(TREND).map((d) => d.metric)).toEqual(["eval_f1"]);
    expect(degradationText(TREND.degradations[0])).toBe("eval_f1 is 7.69 % below its best: v3 0.84 against v2 0.91");
    const html = render(createElement(DegradationFlag, { trend: TREND }));
    expect(html).toContain('data-testid="degradation-flag"');
    expect(html).toContain("more than 5 % worse");
    expect(html).toContain('data-metric="eval_f1"');
    expect(html).not.toContain('data-metric="eval_loss"');
  });

  it("is quiet when nothing fell, and absent without verdicts", () => {
    const fine = { ...TREND, degraded: false, degradations: [TREND.degradations[1]] };
    const html = render(createElement(DegradationFlag, { trend: fine }));
    expect(html).toContain("No degradation");
    expect(html).not.toContain("degradation-flag");
    expect(render(createElement(DegradationFlag, { trend: { ...TREND, degradations: [] } }))).toBe("");
    expect(render(createElement(DegradationFlag, { trend: undefined }))).toBe("");
  });

  it("reads a best of zero as an unbounded drop", () => {
    const zero = { ...TREND.degradations[1], best_value: 0, newest_value: 0.1, newest_version: 4, relative_drop: null, degraded: true };
    expect(degradationText(zero)).toBe("eval_loss is ∞ % above its best: v4 0.1 against v3 0");
  });
});

describe("trend charts", () => {
  it("draws an experiment's metrics over runs, gaps where a run lacks one", () => {
    const input = experimentTrend(SUMMARY.trend, ["acc", "loss"]);
    expect(input.series).toEqual([
      { name: "acc", values: [0.8, null] },
      { name: "loss", values: [0.5, 0.3] },
    ]);
    expect(input.titles?.[0]).toContain("one");
    const option = trendOption(input, COLORS) as { series: { data: unknown[] }[]; legend?: unknown };
    expect(option.series).toHaveLength(2);
    expect(option.legend).toBeDefined();
  });

  it("labels run starts by the time of day when the runs started within a day", () => {
    const stamp = "2026-12-05 07:41:29";
    const cut = (span: number) => stamp.slice(...startLabelCut(span));
    expect(cut(5_000)).toBe("07:41:29");
    expect(cut(3 * 3600_000)).toBe("07:41");
    expect(cut(9 * 86_400_000)).toBe("12-05 07:41");
    const t0 = new Date(2026, 11, 5, 7, 41, 20).getTime();
    const quick = experimentTrend({ ...SUMMARY.trend, points: SUMMARY.trend.points.map((p, i) => ({ ...p, start_time: t0 + i * 4000 })) }, ["loss"]);
    expect(quick.categories).toEqual(["07:41:20", "07:41:24"]);
  });

  it("marks a model's best and newest versions, the newest flagged when degraded", () => {
    const input = modelTrend(TREND, "eval_f1");
    expect(input.categories).toEqual(["v1", "v2", "v3"]);
    expect(input.marks?.eval_f1).toEqual([
      { index: 1, label: "best" },
      { index: 2, label: "newest ↓", flag: true },
    ]);
    const option = trendOption(input, COLORS, "#f00") as { series: { data: ({ itemStyle: { color: string } } | number)[] }[]; legend?: unknown };
    const data = option.series[0].data;
    expect(data[0]).toBe(0.89);
    expect((data[2] as { itemStyle: { color: string } }).itemStyle.color).toBe("#f00");
    expect(option.legend).toBeUndefined();
    // the best is also the newest: one mark
    expect(modelTrend(TREND, "eval_loss").marks?.eval_loss).toEqual([{ index: 1, label: "best" }]);
  });
});
