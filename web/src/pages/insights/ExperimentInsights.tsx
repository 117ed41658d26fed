// The experiment page's insights: runs by status, durations, the best run per metric and a
// small trend of the chosen metric over runs by start time (GET /api/v1/experiments/{id}/summary).
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { experimentInsights, experimentTrend } from "./logic";
import { TrendChart } from "./TrendChart";
import { InsightFigures } from "./widgets";
import "./insights.css";

export function ExperimentInsights({ experimentId }: { experimentId: string }) {
  const query = useQuery({ queryKey: ["experiment-insights", experimentId], queryFn: ({ signal }) => experimentInsights(experimentId, signal) });
  const data = query.data;
  const metrics = data?.trend.metrics ?? [];
  const [chosen, setChosen] = useState<string | null>(null);
  const metric = chosen && metrics.some((m) => m.key === chosen) ? chosen : (metrics[0]?.key ?? null);
  const input = useMemo(() => (data && metric ? experimentTrend(data.trend, [metric]) : null), [data, metric]);
  if (query.isError) {
    return <div className="error-box">Could not load the insights: {query.error instanceof ApiError ? query.error.message : String(query.error)}</div>;
  }
  if (!data) return <p className="muted">Loading insights…</p>;
  const thinned = data.trend.stride > 1;
  return (
    <section className="card insights-panel" aria-labelledby="insights-h" data-testid="experiment-insights">
      <div className="insights-figures-col">
        <h2 id="insights-h">Insights</h2>
        <InsightFigures data={data} />
      </div>
      <div className="insights-chart-col">
        {input && metric ? (
          <>
            <div className="toolbar">
              <label>
                trend of{" "}
                <select className="input" value={metric} onChange={(e) => setChosen(e.target.value)} data-testid="insight-metric">
                  {metrics.map((m) => (
                    <option key={m.key} value={m.key}>
                      {m.key}
                    </option>
                  ))}
                </select>
              </label>
              <span className="note">
                latest value per run, by start time{thinned ? ` · every ${data.trend.stride}th of ${data.trend.total_runs} runs` : ""}
              </span>
            </div>
            <TrendChart input={input} label={`${metric} over runs`} testId="experiment-trend" />
          </>
        ) : (
          <p className="muted">No metrics logged yet.</p>
        )}
      </div>
    </section>
  );
}
