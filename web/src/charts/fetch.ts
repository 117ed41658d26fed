import { apiGet } from "../api/http";
import { mergeResponses, requestGroups } from "./data";
import { DOWNSAMPLE_PATH, MAX_SERIES_PER_REQUEST, type DownsampleResponse, type XAxis, type XWindow } from "./types";

/** Buckets for runs × keys; more than the server's 100 series per request are split up. */
export async function fetchBuckets(
  runs: string[],
  keys: string[],
  axis: XAxis,
  width: number,
  window: XWindow | null,
  signal?: AbortSignal,
): Promise<DownsampleResponse | null> {
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
