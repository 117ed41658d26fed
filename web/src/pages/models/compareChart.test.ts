import { describe, expect, it } from "vitest";
import { chartHeight, modelsCompareOption, panelLayout } from "./compareChart";

const colors = { text: "#000", muted: "#666", border: "#ccc", surface: "#fff", accent: "#00f", dark: false };

describe("the models comparison chart", () => {
  const models = [
    { name: "lims v2", values: { test_f1: 0.91, test_samples: 200 } },
    { name: "sweep v1", values: { test_f1: 0.89, test_samples: null } },
  ];
  const option = modelsCompareOption(models, ["test_f1", "test_samples"], colors) as Record<string, unknown[]>;

  it("draws each metric on its own axis that takes 0 in", () => {
    expect(option.yAxis).toHaveLength(2);
    for (const y of option.yAxis as { scale: boolean; gridIndex: number; min?: unknown }[]) {
      expect(y.scale).toBe(false);
      expect(y.min).toBeUndefined();
    }
    expect((option.yAxis as { name: string }[]).map((y) => y.name)).toEqual(["test_f1", "test_samples"]);
  });
  it("puts each model's value in its own bar, and a missing value as none", () => {
    const series = option.series as { name: string; xAxisIndex: number; data: (number | null)[] }[];
    expect(series).toHaveLength(4);
    const f1 = series.filter((s) => s.xAxisIndex === 0).map((s) => [s.name, s.data]);
    expect(f1).toEqual([["lims v2", [0.91, null]], ["sweep v1", [null, 0.89]]]);
    const samples = series.filter((s) => s.xAxisIndex === 1).map((s) => s.data);
    expect(samples).toEqual([[200, null], [null, null]]);
  });
  it("lays the panels out in rows of four", () => {
    expect(panelLayout(8)).toEqual({ columns: 4, rows: 2 });
    expect(panelLayout(3)).toEqual({ columns: 3, rows: 1 });
    expect(panelLayout(0)).toEqual({ columns: 1, rows: 1 });
    expect(chartHeight(8)).toBeGreaterThan(chartHeight(4));
  });
});
