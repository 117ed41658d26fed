// The runs table grouped by a param or tag: a row per group with its run count and each
// metric aggregated (mean, min or max) over the group's runs; a group opens to list its runs.
import { Fragment, useMemo, useState } from "react";
import { Link } from "react-router";
import { formatNumber } from "../../lib/format";
import { columnLabel, parseColumnId } from "./columns";
import { groupFilter, groupRuns } from "./groups";
import type { RunRow } from "./runRow";
import type { Aggregate } from "./urlState";

export interface GroupedRunsProps {
  rows: RunRow[];
  group: string;
  agg: Aggregate;
  metricColumns: string[];
  colorOf: (runId: string) => string;
  onFilter: (filter: string) => void;
  partial: boolean;
}

export function GroupedRuns({ rows, group, agg, metricColumns, colorOf, onFilter, partial }: GroupedRunsProps) {
  const keys = useMemo(() => metricColumns.map((c) => parseColumnId(c)?.key ?? c), [metricColumns]);
  const groups = useMemo(() => groupRuns(rows, group, keys, agg), [rows, group, keys, agg]);
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const toggle = (v: string) =>
    setOpen((cur) => {
      const next = new Set(cur);
      if (next.has(v)) next.delete(v);
      else next.add(v);
      return next;
    });
  return (
    <div className="runs-scroller card grouped" data-testid="grouped-runs">
      <table className="runs-table grouped-table" aria-label={`Runs grouped by ${columnLabel(group)}`}>
        <thead>
          <tr>
            <th className="name-col">
              {columnLabel(group)} <span className="faint">({groups.length} groups{partial ? ", of the loaded runs" : ""})</span>
            </th>
            <th className="num">Runs</th>
            {keys.map((k) => (
              <th key={k} className="num" title={`${agg} of ${k} over the group's runs`}>
                <span className="kind metrics">m</span> {k} <span className="faint">({agg})</span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => {
            const isOpen = open.has(g.value);
            return (
              <Fragment key={g.value}>
                <tr className="group-row" data-group={g.value}>
                  <td className="name-col">
                    <button type="button" className="expander" aria-expanded={isOpen} aria-label={`${isOpen ? "Collapse" : "Expand"} ${g.value}`} onClick={() => toggle(g.value)}>
                      {isOpen ? "▾" : "▸"}
                    </button>
                    <span className={g.missing ? "faint" : "group-value"}>{g.value}</span>
                    {!g.missing && (
                      <button type="button" className="btn small ghost group-filter" onClick={() => onFilter(groupFilter(group, g.value))} title="Show only this group's runs">
                        Filter
                      </button>
                    )}
                  </td>
                  <td className="num">{g.runs.length}</td>
                  {keys.map((k) => {
                    const m = g.metrics.get(k);
                    return (
                      <td key={k} className="num num-cell" title={m && m.count < g.runs.length ? `${m.count} of ${g.runs.length} runs have ${k}` : undefined}>
                        {m?.value === null || m === undefined ? "" : formatNumber(m.value)}
                      </td>
                    );
                  })}
                </tr>
                {isOpen &&
                  g.runs.map((r) => (
                    <tr key={r.id} className="group-run" data-run-id={r.id}>
                      <td className="name-col">
                        <span className="tree-indent" style={{ width: 24 }} />
                        <span className="run-dot" style={{ background: colorOf(r.id) }} aria-hidden="true" />
                        <Link to={`/runs/${r.id}`}>{r.name}</Link>
                      </td>
                      <td />
                      {keys.map((k) => {
                        const v = r.metrics.get(k);
                        return (
                          <td key={k} className="num num-cell">
                            {v === undefined ? "" : formatNumber(v)}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
