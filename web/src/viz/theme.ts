// Chart colours follow the app theme: read from the CSS variables, re-read on theme change.
import { useEffect, useState } from "react";

export interface ChartColors {
  text: string;
  muted: string;
  border: string;
  surface: string;
  accent: string;
  dark: boolean;
}

/** A qualitative palette that reads on light and dark backgrounds. */
export const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d",
];

export function seriesColor(i: number): string {
  if (i < PALETTE.length) return PALETTE[i];
  // beyond the palette: spread hues by the golden angle
  const hue = Math.round((i * 137.508) % 360);
  return `hsl(${hue}, 55%, 55%)`;
}

function read(): ChartColors {
  const style = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    text: v("--text", "#1c2430"),
    muted: v("--text-muted", "#5c6776"),
    border: v("--border", "#d9dde3"),
    surface: v("--surface", "#ffffff"),
    accent: v("--accent", "#2760c4"),
    dark: document.documentElement.getAttribute("data-theme") === "dark",
  };
}

export function useChartColors(): ChartColors {
  const [colors, setColors] = useState<ChartColors>(read);
  useEffect(() => {
    const update = () => setColors(read());
    window.addEventListener("cairn-theme", update);
    return () => window.removeEventListener("cairn-theme", update);
  }, []);
  return colors;
}

/** Axis styling shared by every cartesian chart. */
export function axisStyle(c: ChartColors) {
  return {
    axisLine: { lineStyle: { color: c.border } },
    axisTick: { lineStyle: { color: c.border } },
    axisLabel: { color: c.muted },
    splitLine: { lineStyle: { color: c.border, opacity: 0.6 } },
    nameTextStyle: { color: c.muted },
  };
}
