// /evaluations/leaderboard — benchmarks × models (or registered versions) with the latest
// completed primary score of each (GET /api/v1/evaluations/leaderboard), the delta against
// the model's champion coloured (green better, red worse, lower-is-better respected), a
// column sorted on click, and one bar chart per benchmark. Filters kept in the URL.
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { EChart } from "../../viz/EChart";
import { axisStyle, seriesColor, useChartColors, type ChartColors } from "../../viz/theme";
import type { ChartOption } from "../../viz/echarts";
import { getLeaderboard, type BoardBenchmark, type BoardRow, type Leaderboard } from "./api";
import { deltaTone, formatDelta, formatScore, modelLabel, sortBoard, splitList, type SortDir } from "./logic";
import { EvalNav } from "./widgets";
import "../../viz/pages.css";
import "./evaluations.css";

function barOption(board: Leaderboard, bench: BoardBenchmark, c: ChartColors): ChartOption {
  const rows = sortBoard(board.rows, bench).filter((r) => r.scores[bench.benchmark_id] != null);
  const labels = rows.map((r) => modelLabel(r));
  return {
    grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: { type: "value", ...axisStyle(c), name: bench.lower_is_better ? `${bench.primary_metric ?? "score"} (lower is better)` : (bench.primary_metric ?? "score"), nameLocation: "middle", nameGap: 24 },
    yAxis: { type: "category", data: labels, inverse: true, ...axisStyle(c), axisLabel: { color: c.muted, width: 180, overflow: "truncate" } },
    series: [
      {
        type: "bar",
        data: rows.map((r, i) => ({
          value: r.scores[bench.benchmark_id].score,
          itemStyle: { color: r.registered_name && board.champion[r.registered_name] === r.registered_version ? "#edc948" : seriesColor(i === 0 ? 4 : 0) },
        })),
        label: { show: true, position: "right", color: c.text, formatter: (p: { value: number }) => formatScore(p.value) },
        barMaxWidth: 22,
      },
    ],
  };
}

function isChampion(board: Leaderboard, r: BoardRow): boolean {
  return r.registered_name != null && board.champion[r.registered_name] === r.registered_version;
}

export function LeaderboardPage() {
  const [params, setParams] = useSearchParams();
  const benchmarks = splitList(params.get("benchmarks"));
  const models = splitList(params.get("models"));
  const provider = params.get("provider") ?? "";
  const [draft, setDraft] = useState({ benchmarks: benchmarks.join(", "), models: models.join(", "), provider });
  const [sort, setSort] = useState<{ id: string; dir: SortDir } | null>(null);
  const colors = useChartColors();
  const board = useQuery({
    queryKey: ["eval-leaderboard", benchmarks, models, provider],
    queryFn: ({ signal }) => getLeaderboard({ benchmarks, models, provider }, signal),
    retry: false,
  });
  const b = board.data;
  const rows = useMemo(() => {
    if (!b) return [];
    if (!sort) return b.rows; // the server's order: best first on the first benchmark
    return sortBoard(b.rows, b.benchmarks.find((x) => x.benchmark_id === sort.id), sort.dir);
  }, [b, sort]);
  const options = useMemo(() => (b ? b.benchmarks.map((x) => ({ bench: x, option: barOption(b, x, colors) })) : []), [b, colors]);
  const apply = () => {
    const next = new URLSearchParams();
    const bs = splitList(draft.benchmarks);
    const ms = splitList(draft.models);
    if (bs.length) next.set("benchmarks", bs.join(","));
    if (ms.length) next.set("models", ms.join(","));
    if (draft.provider.trim()) next.set("provider", draft.provider.trim());
    setSort(null);
    setParams(next);
  };
  return (
    <div className="page" data-testid="leaderboard-page">
      <div className="page-head">
        <h1>Leaderboard</h1>
        <EvalNav />
      </div>
      <p className="muted">
        The latest completed score of every model (or registered version) on each benchmark. Deltas compare a version with its model's champion (the <code>champion</code> alias, else the Production version, marked ★).
      </p>
      <form
        className="card box eval-filters"
        aria-label="Filter the leaderboard"
        onSubmit={(e) => {
          e.preventDefault();
          apply();
        }}
      >
        <label className="field">
          <span>Benchmarks (comma-separated; the first sorts)</span>
          <input className="input" value={draft.benchmarks} onChange={(e) => setDraft({ ...draft, benchmarks: e.target.value })} placeholder="all" data-testid="board-benchmarks" />
        </label>
        <label className="field">
          <span>Models</span>
          <input className="input" value={draft.models} onChange={(e) => setDraft({ ...draft, models: e.target.value })} placeholder="all" data-testid="board-models" />
        </label>
        <label className="field">
          <span>Provider</span>
          <input className="input" value={draft.provider} onChange={(e) => setDraft({ ...draft, provider: e.target.value })} placeholder="any" data-testid="board-provider" />
        </label>
        <div className="form-row">
          <button type="submit" className="btn primary" data-testid="board-apply">
            Show
          </button>
        </div>
      </form>
      <ErrorText error={board.error} />
      {board.isPending && <p className="muted">Loading…</p>}
      {b && b.rows.length === 0 && (
        <div className="empty-state" data-testid="board-empty">
          <p>No completed benchmark scores {benchmarks.length || models.length || provider ? "match these filters" : "yet"}.</p>
        </div>
      )}
      {b && b.rows.length > 0 && (
        <>
          <div className="scroll-x section">
            <table className="data-table eval-table board-table" data-testid="board-table">
              <thead>
                <tr>
                  <th>Model</th>
                  {b.benchmarks.map((x) => {
                    const active = sort?.id === x.benchmark_id || (!sort && x === b.benchmarks[0]);
                    const dir = sort?.id === x.benchmark_id ? sort.dir : "best";
                    return (
                      <th key={x.benchmark_id} className="score-head" aria-sort={active ? (dir === "best") === x.lower_is_better ? "ascending" : "descending" : "none"}>
                        <button
                          type="button"
                          onClick={() => setSort({ id: x.benchmark_id, dir: sort?.id === x.benchmark_id && sort.dir === "best" ? "worst" : "best" })}
                          title={`${x.provider_id} · ${x.primary_metric ?? "score"}${x.lower_is_better ? " (lower is better)" : ""}`}
                          data-testid="board-sort"
                        >
                          {x.benchmark_id}
                          {active ? (dir === "best" ? " ▼" : " ▲") : ""}
                        </button>
                        <div className="muted" style={{ fontWeight: 400, fontSize: 11 }}>
                          {x.primary_metric ?? "score"}
                          {x.lower_is_better ? " ↓" : " ↑"}
                        </div>
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={`${r.registered_name ?? r.model_name}/${r.registered_version ?? ""}`} className={isChampion(b, r) ? "champion" : undefined} data-testid="board-row">
                    <td className="model-cell">
                      {r.registered_name ? (
                        <Link to={`/models/${encodeURIComponent(r.registered_name)}${r.registered_version != null ? `/versions/${r.registered_version}` : ""}`}>{modelLabel(r)}</Link>
                      ) : (
                        modelLabel(r)
                      )}
                    </td>
                    {b.benchmarks.map((x) => {
                      const s = r.scores[x.benchmark_id];
                      const delta = r.delta_vs_champion[x.benchmark_id];
                      const tone = isChampion(b, r) ? null : deltaTone(delta, x.lower_is_better);
                      return (
                        <td key={x.benchmark_id} className="score" data-testid="board-score">
                          {s ? (
                            <Link to={s.run_id ? `/runs/${s.run_id}` : `/evaluations/jobs/${encodeURIComponent(s.job_id)}`} title={`job ${s.job_id}`}>
                              {formatScore(s.score)}
                            </Link>
                          ) : (
                            <span className="muted">—</span>
                          )}
                          {tone && (
                            <span className={`delta ${tone}`} data-testid="board-delta" data-tone={tone} title="against the champion">
                              {formatDelta(delta)}
                            </span>
                          )}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <section className="section board-charts" aria-label="Scores per benchmark">
            {options.map(({ bench, option }) => (
              <div className="chart-card" key={bench.benchmark_id}>
                <h3>{bench.benchmark_id}</h3>
                <EChart option={option} height={Math.max(140, 40 + 28 * b.rows.filter((r) => r.scores[bench.benchmark_id]).length)} label={`${bench.benchmark_id} scores by model`} testId="board-chart" />
              </div>
            ))}
          </section>
        </>
      )}
    </div>
  );
}
