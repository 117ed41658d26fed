// A React wrapper around one ECharts instance: created on mount, options replaced when they
// change, resized with its box, disposed on unmount. Clicks reach `onClick`.
import { useEffect, useRef } from "react";
import { echarts, type ChartOption } from "./echarts";

export type EChartsInstance = ReturnType<typeof echarts.init>;

export interface EChartProps {
  option: ChartOption;
  height?: number;
  testId?: string;
  label: string;
  onClick?: (params: { dataType?: string; data?: unknown; name?: string; seriesIndex?: number; dataIndex?: number }) => void;
  onEvents?: Record<string, (params: unknown, chart: EChartsInstance) => void>;
}

export function EChart({ option, height = 320, testId, label, onClick, onEvents }: EChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsInstance | null>(null);
  const click = useRef(onClick);
  click.current = onClick;
  const events = useRef(onEvents);
  events.current = onEvents;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const instance = echarts.init(el, undefined, { renderer: "canvas" });
    chart.current = instance;
    instance.on("click", (p) => click.current?.(p as never));
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(el);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const instance = chart.current;
    if (!instance) return;
    for (const name of Object.keys(events.current ?? {})) {
      instance.off(name);
      instance.on(name, (p) => events.current?.[name]?.(p, instance));
    }
    instance.setOption({ animation: false, backgroundColor: "transparent", ...option }, { notMerge: true });
  }, [option]);

  return <div ref={box} className="echart" role="img" aria-label={label} data-testid={testId} style={{ height, width: "100%" }} />;
}
