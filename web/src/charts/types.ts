// The answer of GET /api/v1/metrics/downsample (see docs/api.md, "Downsampled metrics"), as the
// server's OpenAPI description declares it.
import type { V1 } from "../api/types";

export type XAxis = V1<"Axis">;
export type SeriesBuckets = V1<"SeriesOut">;
export type DownsampleResponse = V1<"DownsampleOut">;

/** A zoom window on the server's x axis (steps, or milliseconds for the time axes). */
export interface XWindow {
  min: number;
  max: number;
}

export const DOWNSAMPLE_PATH = "/api/v1/metrics/downsample";
export const MAX_SERIES_PER_REQUEST = 100;
/** POST /api/v1/metrics/downsample/batch: many runs × keys over one window in one request. */
export const DOWNSAMPLE_BATCH_PATH = "/api/v1/metrics/downsample/batch";
export const MAX_SERIES_PER_BATCH = 2000;
/** The batch endpoint's bound on series × width per answer. */
export const MAX_BUCKETS_PER_BATCH = 500_000;
