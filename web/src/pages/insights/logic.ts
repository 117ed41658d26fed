// Insights for the experiment and model pages: the answers of GET /api/v1/experiments/{id}/summary
// and the trend of GET /api/v1/models/{name}/performance, turned into what the panels show:
// status chips, duration figures, the degradation sentence, and the trend chart's options.
import { apiGet } from "../../api/http";
import type { V1 } from "../../api/types";
import { formatDuration, formatNumber, formatTimestamp } from "../../lib/format";
import type { ChartOption } from "../../viz/echarts";
import { axisStyle, seriesColor, type ChartColors } from "../../viz/theme";

export type ExperimentInsights = V1<"ExperimentInsightsOut">;
export type ModelTrend = V1<"ModelTrendOut">;
export type Degradation = V1<"DegradationOut">;
export type MetricGoal = V1<"MetricGoalOut">;

export const experimentInsights = (experimentId: string, signal?: AbortSignal) =>
  apiGet<ExperimentInsights>(`/api/v1/experiments/${encodeURIComponent(experimentId)}/summary`, undefined, signal);

/** Statuses in the order people read them; others after, by name. */
const STATUS_ORDER = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

export function statusEntries(counts: Record<string, number>): [string, number][] {
  const rank = (s: string) => {
    const i = STATUS_ORDER.indexOf(s);
    return i < 0 ? STATUS_ORDER.length : i;
  };
  return Object.entries(counts).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** "median 1m 05s · p90 2m 10s · 3s – 4m 00s (12 finished)", or "" without finished runs. */
export function durationText(d: ExperimentInsights["duration"]): string {
  if (!d.count) return "";
  const range = d.min_ms === d.max_ms ? formatDuration(d.min_ms) : `${formatDuration(d.min_ms)} – ${formatDuration(d.max_ms)}`;
  return `median ${formatDuration(d.median_ms)} · p90 ${formatDuration(d.p90_ms)} · ${range} (${d.count} finished)`;
}

export function percent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined) return "∞ %";
  return `${Number((fraction * 100).toPrecision(3))} %`;
}

/** One verdict as a sentence: "eval_f1 fell 7.69 % below its best: v3 0.84 against v2 0.91". */
export function degradationText(d: Degradation): string {
  const worse = d.direction === "max" ? "below" : "above";
  return `${d.metric} is ${percent(d.relative_drop)} ${worse} its best: v${d.newest_version} ${formatNumber(d.newest_value)} against v${d.best_version} ${formatNumber(d.best_value)}`;
}

/** The verdicts that flag, worst first. */
export function flagged(trend: ModelTrend | undefined): Degradation[] {
  const out = (trend?.degradations ?? []).filter((d) => d.degraded);
  const size = (d: Degradation) => (d.relative_drop === null || d.relative_drop === undefined ? Infinity : d.relative_drop);
  return out.sort((a, b) => size(b) - size(a));
}

export function directionLabel(direction: string): string {
  return direction === "min" ? "lower is better" : "higher is better";
}

/** A point drawn larger with a label; `flag`: drawn in the warning colour. */
export interface Mark {
  index: number;
  label: string;
  flag?: boolean;
}

export interface TrendInput {
  /** x labels, oldest first */
  categories: string[];
  series: { name: string; values: (number | null)[] }[];
  /** x axis title */
  xName: string;
  /** tooltip title per category (defaults to the label) */
  titles?: string[];
  /** categories to ring, per series name (best, newest) */
  marks?: Record<string, Mark[]>;
}

/** Where the x labels of runs started over `span` ms are cut from "YYYY-MM-DD HH:MM:SS": the
 * month, day and minute over days, the time of day within one (with seconds within an hour),
 * so runs of a quick sweep do not all read "12-05 07:41". */
export function startLabelCut(span: number): [number, number] {
  if (span < 3600_000) return [11, 19];
  if (span < 86_400_000) return [11, 16];
  return [5, 16];
}

/** The experiment trend: one series per chosen metric over runs by start time. */
export function experimentTrend(trend: ExperimentInsights["trend"], metrics: string[]): TrendInput {
  const points = trend.points;
  const starts = points.map((p) => p.start_time).filter((t): t is number => typeof t === "number" && t > 0);
  const [from, to] = startLabelCut(starts.length ? Math.max(...starts) - Math.min(...starts) : Infinity);
  return {
    categories: points.map((p) => formatTimestamp(p.start_time).slice(from, to) || p.run_id.slice(0, 8)),
    titles: points.map((p) => `${p.run_name ?? p.run_id.slice(0, 8)} · ${formatTimestamp(p.start_time)}`),
    series: metrics.map((m) => ({ name: m, values: points.map((p) => (m in p.values ? p.values[m] : null)) })),
    xName: "run start",
  };
}

/** The model trend: one metric over versions, with its best and newest versions marked. */
export function modelTrend(trend: ModelTrend, metric: string): TrendInput {
  const values = trend.series[metric] ?? [];
  const versions = values.map((v) => v.version);
  const verdict = trend.degradations.find((d) => d.metric === metric);
  const marks: Mark[] = [];
  if (verdict) {
    marks.push({ index: versions.indexOf(verdict.best_version), label: "best" });
    if (verdict.newest_version !== verdict.best_version) {
      marks.push({ index: versions.indexOf(verdict.newest_version), label: verdict.degraded ? "newest ↓" : "newest", flag: verdict.degraded });
    }
  }
  return {
    categories: versions.map((v) => `v${v}`),
    series: [{ name: metric, values: values.map((v) => v.value) }],
    xName: "version",
    marks: { [metric]: marks.filter((m) => m.index >= 0) },
  };
}

/** ECharts options of a small line chart: a line per series, marked points drawn larger with
 * their label, the tooltip naming each category's run or version. */
export function trendOption(input: TrendInput, colors: ChartColors, flaggedColor = "#d64545"): ChartOption {
  return {
    grid: { left: 56, right: 16, top: 24, bottom: 36 },
    tooltip: {
      trigger: "axis",
      confine: true,
      formatter: (items: unknown) => {
        const list = items as { dataIndex: number; seriesName: string; value: number | null; marker: string }[];
        if (!list.length) return "";
        const i = list[0].dataIndex;
        const head = input.titles?.[i] ?? input.categories[i];
        return [head, ...list.filter((x) => x.value !== null && x.value !== undefined).map((x) => `${x.marker}${x.seriesName}: ${formatNumber(x.value)}`)].join("<br/>");
      },
    },
    legend: input.series.length > 1 ? { top: 0, textStyle: { color: colors.muted } } : undefined,
    xAxis: { type: "category", data: input.categories, name: input.xName, nameLocation: "middle", nameGap: 24, ...axisStyle(colors) },
    yAxis: { type: "value", scale: true, ...axisStyle(colors), axisLabel: { color: colors.muted, formatter: (v: number) => formatNumber(v) } },
    series: input.series.map((s, k) => {
      const marks = new Map((input.marks?.[s.name] ?? []).map((m) => [m.index, m]));
      const color = seriesColor(k);
      return {
        type: "line",
        name: s.name,
        connectNulls: true,
        symbol: "circle",
        symbolSize: 6,
        lineStyle: { color, width: 1.5 },
        itemStyle: { color },
        data: s.values.map((value, i) => {
          const mark = marks.get(i);
          if (!mark) return value;
          return {
            value,
            symbolSize: 12,
            itemStyle: { color: mark.flag ? flaggedColor : color, borderColor: colors.surface, borderWidth: 2 },
            label: { show: true, position: "top", formatter: mark.label, color: mark.flag ? flaggedColor : colors.text },
          };
        }),
      };
    }),
  };
}
