// Sampled metric histories of the compared runs (metrics/get-history-bulk-interval).
import { apiGet, MLFLOW } from "../../api/http";

/** How many metric charts the compare view opens with. */
export const DEFAULT_CHARTS = 4;

export interface HistoryPoint {
  key: string;
  value: number | string;
  step: number;
  timestamp?: number;
  run_id: string;
}

export function historyKey(key: string, runIds: string[]) {
  return ["bulk-history", key, runIds] as const;
}

export function fetchHistory(key: string, runIds: string[], signal?: AbortSignal) {
  return apiGet<{ metrics?: HistoryPoint[] }>(
    `${MLFLOW}/metrics/get-history-bulk-interval`,
    { run_ids: runIds, metric_key: key, max_results: 320 },
    signal,
  );
}
