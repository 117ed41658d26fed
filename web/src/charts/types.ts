// The answer of GET /api/v1/metrics/downsample (see docs/api.md, "Downsampled metrics").

export type XAxis = "step" | "relative" | "wall";

export interface SeriesBuckets {
  run_id: string;
  key: string;
  x_offset: number;
  point_count: number;
  nan_count: number;
  pos_inf_count: number;
  neg_inf_count: number;
  x_first: number[];
  x_last: number[];
  min: number[];
  max: number[];
  mean: number[];
  count: number[];
}

export interface DownsampleResponse {
  x: XAxis;
  width: number;
  bucket_count: number;
  x_min: number | null;
  x_max: number | null;
  series: SeriesBuckets[];
}

/** A zoom window on the server's x axis (steps, or milliseconds for the time axes). */
export interface XWindow {
  min: number;
  max: number;
}

export const DOWNSAMPLE_PATH = "/api/v1/metrics/downsample";
export const MAX_SERIES_PER_REQUEST = 100;
