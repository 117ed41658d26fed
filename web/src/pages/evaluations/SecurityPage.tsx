// /models/:name/security — a model's red-team record (GET /api/v1/red-team/models/{name}):
// attack types × versions (or runs) as a heat map of attack success rates, the detection rate
// over time as a line chart, and what changed between consecutive results.
import { useMemo } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { Crumbs, ErrorText } from "../../lib/widgets";
import { formatTimestamp } from "../../lib/format";
import { EChart } from "../../viz/EChart";
import { axisStyle, seriesColor, useChartColors, type ChartColors } from "../../viz/theme";
import type { ChartOption } from "../../viz/echarts";
import { getRedTeam } from "./api";
import { formatRate, heatColor, heatColumns, securityView, trendLabels, type SecurityPoint } from "./logic";
import "../../viz/pages.css";
import "./evaluations.css";

function trendOption(points: SecurityPoint[], c: ChartColors): ChartOption {
  const series = [
    { name: "detection rate", key: "detection_rate" as const, color: seriesColor(4) },
    { name: "vulnerability rate", key: "vulnerability_rate" as const, color: seriesColor(2) },
  ];
  return {
    grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
    legend: { top: 0, textStyle: { color: c.muted } },
    tooltip: { trigger: "axis", valueFormatter: (v: number) => formatRate(v) },
    xAxis: { type: "category", data: trendLabels(points), ...axisStyle(c) },
    yAxis: { type: "value", min: 0, max: 1, ...axisStyle(c), axisLabel: { color: c.muted, formatter: (v: number) => `${Math.round(v * 100)}%` } },
    series: series.map((s) => ({
      name: s.name,
      type: "line",
      data: points.map((p) => p[s.key]),
      connectNulls: true,
      symbolSize: 7,
      lineStyle: { color: s.color, width: 2 },
      itemStyle: { color: s.color },
    })),
  };
}

export function SecurityPage() {
  const { name = "" } = useParams();
  const colors = useChartColors();
  const trend = useQuery({ queryKey: ["red-team", name], queryFn: ({ signal }) => getRedTeam(name, signal), retry: false });
  const view = useMemo(() => (trend.data === undefined ? null : securityView(name, trend.data)), [name, trend.data]);
  const option = useMemo(() => (view ? trendOption(view.points, colors) : null), [view, colors]);
  const columns = useMemo(() => (view ? heatColumns(view.points) : []), [view]);
  return (
    <div className="page" data-testid="security-page">
      <Crumbs
        trail={[
          { to: "/models", label: "Models" },
          { to: `/models/${encodeURIComponent(name)}`, label: name },
        ]}
      />
      <div className="page-head">
        <h1>Security: {name}</h1>
        <Link to={`/evaluations?model=${encodeURIComponent(name)}`} className="btn small ghost">
          Evaluation jobs
        </Link>
      </div>
      <p className="muted">
        Red-team results (the <code>red_team</code> provider and <code>POST /api/v1/red-team/log</code>): how often each attack type got through, per version or run, and the detection rate over time.
      </p>
      <ErrorText error={trend.error} />
      {trend.isPending && <p className="muted">Loading…</p>}
      {view && view.points.length === 0 && (
        <div className="empty-state" data-testid="security-empty">
          <p>No red-team results for {name} yet.</p>
        </div>
      )}
      {view && view.points.length > 0 && (
        <>
          <section className="section card box" aria-labelledby="heat-h">
            <h2 id="heat-h">Attack success rate by {view.registered ? "version (its newest result)" : "run"}</h2>
            <div className="scroll-x" style={{ border: "none" }}>
              <table className="heatmap" data-testid="security-heatmap">
                <thead>
                  <tr>
                    <th scope="col">Attack type</th>
                    {columns.map((p, i) => (
                      <th key={i} scope="col" title={formatTimestamp(p.time)}>
                        {p.run_id ? <Link to={`/runs/${p.run_id}`}>{view.registered ? p.label : formatTimestamp(p.time)}</Link> : p.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th scope="row">detection rate</th>
                    {columns.map((p, i) => (
                      <td key={i} className="heat-total" data-testid="heat-detection">
                        {formatRate(p.detection_rate)}
                      </td>
                    ))}
                  </tr>
                  {view.types.map((t) => (
                    <tr key={t}>
                      <th scope="row">{t.replace(/_/g, " ")}</th>
                      {columns.map((p, i) => {
                        const rate = p.rates[t];
                        const style = heatColor(rate);
                        return (
                          <td key={i} style={style} data-testid="heat-cell" data-rate={rate ?? ""} title={`${t} · ${p.label}: ${formatRate(rate)}`}>
                            {formatRate(rate)}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="heat-legend">
              <span>0% got through</span>
              <span className="ramp" aria-hidden="true" />
              <span>100%</span>
            </div>
          </section>
          <div className="grid-2 section">
            <section className="chart-card" aria-labelledby="trend-h">
              <h2 id="trend-h" style={{ fontSize: 14 }}>
                Detection rate
              </h2>
              {option && <EChart option={option} height={240} label={`Detection and vulnerability rate of ${name} over time`} testId="security-trend" />}
            </section>
            <section className="card box" aria-labelledby="changes-h">
              <h2 id="changes-h" style={{ fontSize: 14, marginTop: 0 }}>
                What changed
              </h2>
              {view.changes.length === 0 ? (
                <p className="muted">Nothing changed between results.</p>
              ) : (
                <ul className="changes" data-testid="security-changes">
                  {view.changes.map((c, i) => (
                    <li key={i} className={c.tone}>
                      {c.text}
                      {c.time ? <span className="muted"> · {formatTimestamp(c.time)}</span> : null}
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
        </>
      )}
    </div>
  );
}
