// A dataset profile's per-column statistics (numeric columns, text lengths) as a table: one
// row per column, one cell per statistic. The run page shows it compact inside a dataset
// card, the dataset page wide with right-aligned figures.
import type { NumericStats } from "../lib/profile";

export const STAT_KEYS: (keyof NumericStats)[] = ["count", "nulls", "min", "max", "mean", "std", "p50"];

const FIGURE_STYLE = { textAlign: "right", fontVariantNumeric: "tabular-nums" } as const;

export interface StatsTableProps {
  rows: [string, NumericStats][];
  /** the statistics to show, in order; by default those of STAT_KEYS some row has */
  keys?: (keyof NumericStats)[];
  /** the text of the header over the column names */
  corner: string;
  format: (value: number | undefined) => string;
  className: string;
  label?: string;
  testId?: string;
  /** right-aligned, tabular figures (else monospaced cells) */
  alignFigures?: boolean;
}

export function StatsTable({ rows, keys, corner, format, className, label, testId, alignFigures = false }: StatsTableProps) {
  if (rows.length === 0) return null;
  const shown = keys ?? STAT_KEYS.filter((k) => rows.some(([, s]) => s[k] !== undefined));
  return (
    <table className={className} aria-label={label} data-testid={testId}>
      <thead>
        <tr>
          <th>{corner}</th>
          {shown.map((k) => (
            <th key={k} style={alignFigures ? { textAlign: "right" } : undefined}>
              {k}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(([col, s]) => (
          <tr key={col}>
            <td className="mono">{col}</td>
            {shown.map((k) => (
              <td key={k} className={alignFigures ? undefined : "mono"} style={alignFigures ? FIGURE_STYLE : undefined}>
                {format(s[k])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
