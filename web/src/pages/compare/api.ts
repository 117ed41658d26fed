// Cairn's /api/v1/runs/compare as the compare page reads it.
import { apiPost } from "../../api/http";
import type { CompareRun } from "./logic";

/** V1<"RunComparison">, its runs read as CompareRun */
export interface CompareRunsResponse {
  runs: CompareRun[];
}

export function compareRuns(ids: string[], signal?: AbortSignal): Promise<CompareRunsResponse> {
  return apiPost<CompareRunsResponse>("/api/v1/runs/compare", { run_ids: ids }, signal);
}
