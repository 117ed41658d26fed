// Cairn's artifacts API (/api/v1/artifacts) as the artifacts tab reads it.
import { apiGet } from "../../api/http";
import type { V1 } from "../../api/types";
import type { ArtifactType } from "./logic";

export const PAGE_SIZE = 100;

export function searchArtifacts(
  options: { experimentId?: string; q?: string; type?: ArtifactType | null; pageToken?: string },
  signal?: AbortSignal,
): Promise<V1<"ArtifactList">> {
  return apiGet<V1<"ArtifactList">>(
    "/api/v1/artifacts",
    {
      experiment_id: options.experimentId || undefined,
      q: options.q?.trim() || undefined,
      type: options.type ?? undefined,
      max_results: PAGE_SIZE,
      page_token: options.pageToken,
    },
    signal,
  );
}
