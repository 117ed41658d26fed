// The insight panels' plain parts (no queries, no charts): an experiment's figures and a
// model's degradation flag. Rendered on the server in the unit tests.
import { Link } from "react-router";
import { formatNumber } from "../../lib/format";
import { degradationText, directionLabel, durationText, flagged, percent, statusEntries, type ExperimentInsights, type ModelTrend } from "./logic";

export function InsightFigures({ data }: { data: ExperimentInsights }) {
  const durations = durationText(data.duration);
  return (
    <div className="insight-figures" data-testid="insight-figures">
      <div className="chips" aria-label="Runs by status">
        {statusEntries(data.status_counts).map(([status, n]) => (
          <span key={status} className={`chip status-chip status-${status.toLowerCase()}`} data-testid={`status-${status}`}>
            {status.toLowerCase()} <b>{n}</b>
          </span>
        ))}
        {data.run_count === 0 && <span className="muted">No runs yet</span>}
      </div>
      {durations && (
        <p className="muted" data-testid="insight-durations">
          Duration: {durations}
        </p>
      )}
      {data.best_runs.length > 0 && (
        <table className="data-table compact" data-testid="best-runs">
          <thead>
            <tr>
              <th>Metric</th>
              <th>Best run</th>
              <th>Value</th>
            </tr>
          </thead>
          <tbody>
            {data.best_runs.map((b) => (
              <tr key={b.metric}>
                <td title={directionLabel(b.direction)}>
                  {b.metric} <span className="faint">{b.direction === "min" ? "↓" : "↑"}</span>
                </td>
                <td>
                  <Link to={`/runs/${b.run_id}`}>{b.run_name ?? b.run_id.slice(0, 8)}</Link>
                </td>
                <td className="mono">{formatNumber(b.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The model page's flag: which metrics of the newest version fell below the best version. */
export function DegradationFlag({ trend }: { trend: ModelTrend | undefined }) {
  if (!trend) return null;
  const bad = flagged(trend);
  if (bad.length === 0) {
    if (trend.degradations.length === 0) return null;
    return (
      <p className="note" data-testid="degradation-ok">
        No degradation: the newest versions are within {percent(trend.threshold)} of the best on {trend.degradations.map((d) => d.metric).join(", ")}.
      </p>
    );
  }
  return (
    <div className="error-box degradation-flag" role="status" data-testid="degradation-flag">
      <strong>Performance degraded</strong> (more than {percent(trend.threshold)} worse than the best version):
      <ul>
        {bad.map((d) => (
          <li key={d.metric} data-testid="degradation-item" data-metric={d.metric}>
            {degradationText(d)} <span className="faint">({directionLabel(d.direction)})</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
