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
        // a list, not a table: the runs table stays the page's only table
        <ul className="best-runs" aria-label="Best run per metric" data-testid="best-runs">
          {data.best_runs.map((b) => (
            <li key={b.metric} data-testid="best-run" data-metric={b.metric}>
              <span className="best-metric" title={directionLabel(b.direction)}>
                {b.metric} <span className="faint">{b.direction === "min" ? "↓" : "↑"}</span>
              </span>
              <Link to={`/runs/${b.run_id}`}>{b.run_name ?? b.run_id.slice(0, 8)}</Link>
              <span className="mono">{formatNumber(b.value)}</span>
            </li>
          ))}
        </ul>
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
