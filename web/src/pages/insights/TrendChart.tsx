// A small line chart of a trend (runs by start time, or versions), on the app's ECharts wrapper.
import { useMemo } from "react";
import { EChart } from "../../viz/EChart";
import { useChartColors } from "../../viz/theme";
import { trendOption, type TrendInput } from "./logic";

export function TrendChart({ input, label, testId, height = 200 }: { input: TrendInput; label: string; testId: string; height?: number }) {
  const colors = useChartColors();
  const option = useMemo(() => trendOption(input, colors), [input, colors]);
  return <EChart option={option} height={height} label={label} testId={testId} />;
}
