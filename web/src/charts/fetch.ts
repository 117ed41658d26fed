import { apiGet, apiPost } from "../api/http";
import { mergeResponses, requestGroups } from "./data";
import {
  DOWNSAMPLE_BATCH_PATH,
  DOWNSAMPLE_PATH,
  MAX_BUCKETS_PER_BATCH,
  MAX_SERIES_PER_BATCH,
  MAX_SERIES_PER_REQUEST,
  type DownsampleResponse,
  type XAxis,
  type XWindow,
} from "./types";

/** Buckets for runs × keys. Up to the server's 100 series per GET it is one GET; more go to
 * the batch endpoint, one POST per 2,000 series (and per 500,000 buckets), so a chart of a
 * thousand runs is one request. Every part shares the window, so the parts line up. */
export async function fetchBuckets(
  runs: string[],
  keys: string[],
  axis: XAxis,
  width: number,
  window: XWindow | null,
  signal?: AbortSignal,
): Promise<DownsampleResponse | null> {
  const series = runs.length * keys.length;
  if (series > MAX_SERIES_PER_REQUEST) {
    const limit = Math.max(1, Math.min(MAX_SERIES_PER_BATCH, Math.floor(MAX_BUCKETS_PER_BATCH / width)));
    const parts = await Promise.all(
      requestGroups(runs, keys, limit).map((g) =>
        apiPost<DownsampleResponse>(
          DOWNSAMPLE_BATCH_PATH,
          { run_ids: g.runs, keys: g.keys, x: axis, width, x_min: window?.min ?? null, x_max: window?.max ?? null },
          signal,
        ),
      ),
    );
    return mergeResponses(parts, runs, keys);
  }
  const groups = requestGroups(runs, keys, MAX_SERIES_PER_REQUEST);
  const parts = await Promise.all(
    groups.map((g) =>
      apiGet<DownsampleResponse>(
        DOWNSAMPLE_PATH,
        { run_id: g.runs, key: g.keys, x: axis, width, x_min: window?.min, x_max: window?.max },
        signal,
      ),
    ),
  );
  return mergeResponses(parts, runs, keys);
}
