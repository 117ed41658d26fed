// The artifacts tab's pure parts: the type filters, what a listed artifact previews, and the
// page state in the URL.
import type { FileInfo, V1 } from "../../api/types";
import { artifactRoot, type ArtifactRoot } from "../../artifacts/api";

export type ArtifactOut = V1<"ArtifactOut">;
export type ArtifactType = ArtifactOut["type"];

/** The type filters, in the order the page shows them, with their plural labels. */
export const TYPES: { key: ArtifactType; label: string }[] = [
  { key: "model", label: "Models" },
  { key: "image", label: "Images" },
  { key: "config", label: "Configs" },
  { key: "log", label: "Logs" },
  { key: "report", label: "Reports" },
  { key: "data", label: "Data" },
  { key: "media", label: "Audio & video" },
  { key: "other", label: "Other" },
];

export function isArtifactType(value: string | null): value is ArtifactType {
  return value !== null && TYPES.some((t) => t.key === value);
}

/** A stable key of one listed artifact: its run and its run-relative path. */
export function artifactKey(a: Pick<ArtifactOut, "run_id" | "path">): string {
  return `${a.run_id}:${a.path}`;
}

export function parseKey(key: string | null): { runId: string; path: string } | null {
  if (!key) return null;
  const at = key.indexOf(":");
  if (at <= 0 || at === key.length - 1) return null;
  return { runId: key.slice(0, at), path: key.slice(at + 1) };
}

/** Where an artifact is read from, and which file its preview shows: a model folder previews
 * its MLmodel file (the flavours and signature). */
export function previewTarget(a: ArtifactOut): { root: ArtifactRoot; file: FileInfo } {
  // an MLflow 3 logged model's files live at its own artifact location
  if (a.model_id) return { root: artifactRoot(a.model_id, a.artifact_uri ?? undefined), file: { path: "MLmodel", is_dir: false } };
  const root = artifactRoot(a.run_id, a.artifact_uri ?? undefined);
  if (a.is_dir) return { root, file: { path: `${a.path}/MLmodel`, is_dir: false } };
  return { root, file: { path: a.path, is_dir: false, file_size: a.file_size ?? undefined } };
}

/** The run page's artifact browser, opened at this artifact (a logged model: the run's models). */
export function runArtifactLink(a: Pick<ArtifactOut, "run_id" | "path" | "is_dir" | "model_id">): string {
  if (a.model_id) return `/runs/${encodeURIComponent(a.run_id)}#models`; // the run's logged models
  const path = a.is_dir ? `${a.path}/MLmodel` : a.path;
  return `/runs/${encodeURIComponent(a.run_id)}?artifact=${encodeURIComponent(path)}#artifacts`;
}

/** Images small enough to show as a thumbnail in the list (larger ones show in the preview). */
export const THUMBNAIL_BYTES = 2 * 1024 * 1024;
