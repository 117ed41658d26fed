// The models comparison chart: one small bar chart per metric (named at the top of its axis), each on its own axis from 0,
// so a count (test samples: 200) and a score (F1: 0.91) are never drawn on one scale, and no
// axis starts at 0.5 to make a 0.02 gap look like a doubling.
import type { ChartOption } from "../../viz/echarts";
import { axisStyle, seriesColor, type ChartColors } from "../../viz/theme";

export interface ModelBars {
  /** the series name: "model v3" */
  name: string;
  /** metric key → value (null: the version's run did not log it) */
  values: Record<string, number | null>;
}

export const PANEL_HEIGHT = 150;
const HEAD = 34;
const GAP = 34;

/** Columns and rows of the panels for `n` metrics at most `maxColumns` wide. */
export function panelLayout(n: number, maxColumns = 4): { columns: number; rows: number } {
  const columns = Math.max(1, Math.min(n, maxColumns));
  return { columns, rows: Math.max(1, Math.ceil(n / columns)) };
}

export function chartHeight(n: number, maxColumns = 4): number {
  return HEAD + panelLayout(n, maxColumns).rows * (PANEL_HEIGHT + GAP);
}

/** The chart of `keys` for `models`: a grid per metric (the key names its axis), a bar per model
 * (coloured as in the legend), each value axis its own, starting at 0 (or below, for
 * negative values). */
export function modelsCompareOption(models: ModelBars[], keys: string[], colors: ChartColors, maxColumns = 4): ChartOption {
  const { columns } = panelLayout(keys.length, maxColumns);
  const width = 100 / columns;
  const at = (i: number) => ({ col: i % columns, row: Math.floor(i / columns) });
  return {
    legend: { top: 0, textStyle: { color: colors.muted } },
    tooltip: { trigger: "item", confine: true },
    grid: keys.map((_, i) => ({
      left: `${at(i).col * width + 4}%`,
      width: `${width - 7}%`,
      top: HEAD + at(i).row * (PANEL_HEIGHT + GAP) + 20,
      height: PANEL_HEIGHT - 30,
      containLabel: true,
    })),
    xAxis: keys.map((_, i) => ({ type: "category", gridIndex: i, data: models.map((m) => m.name), axisLabel: { show: false }, axisTick: { show: false }, axisLine: { lineStyle: { color: colors.border } } })),
    // scale: false: each axis takes 0 in, as a bar's length must start from 0
    // the metric's name stands at the top of its axis (the panel's title)
    yAxis: keys.map((k, i) => ({
      type: "value",
      gridIndex: i,
      scale: false,
      splitNumber: 3,
      name: k,
      nameLocation: "end",
      nameGap: 10,
      ...axisStyle(colors),
      nameTextStyle: { color: colors.text, fontWeight: 600, align: "left" },
    })),
    series: models.flatMap((m, j) =>
      keys.map((k, i) => ({
        name: m.name,
        type: "bar",
        xAxisIndex: i,
        yAxisIndex: i,
        color: seriesColor(j),
        barGap: "-100%",
        barMaxWidth: 36,
        data: models.map((_, n) => (n === j ? m.values[k] ?? null : null)),
        tooltip: { valueFormatter: (v: unknown) => (typeof v === "number" ? String(Number(v.toPrecision(6))) : "—") },
      })),
    ),
  };
}
