// Where a run's artifacts are listed and downloaded. Proxied artifact stores
// (`mlflow-artifacts:/…`, what `cairn server` gives runs by default) go through
// /api/2.0/mlflow-artifacts/; any other artifact URI through the older run-relative routes.
import { apiGet } from "../api/http";
import type { FileInfo, ListArtifactsResponse } from "../api/types";

const PROXY = "mlflow-artifacts:";

export interface ArtifactRoot {
  runId: string;
  /** the store path under /api/2.0/mlflow-artifacts/artifacts, or null: use the run routes */
  proxied: string | null;
}

export function artifactRoot(runId: string, artifactUri: string | undefined): ArtifactRoot {
  if (artifactUri && artifactUri.startsWith(PROXY)) {
    const rest = artifactUri.slice(PROXY.length).replace(/^\/+/, "").replace(/\/+$/, "");
    return { runId, proxied: rest };
  }
  return { runId, proxied: null };
}

function encodePath(path: string): string {
  return path
    .split("/")
    .filter(Boolean)
    .map((p) => encodeURIComponent(p))
    .join("/");
}

function join(a: string, b: string): string {
  return [a, b].filter(Boolean).join("/");
}

/** The entries of folder `dir` (run-relative), as run-relative paths, folders first. */
export async function listArtifacts(root: ArtifactRoot, dir: string, signal?: AbortSignal): Promise<FileInfo[]> {
  let files: FileInfo[];
  if (root.proxied !== null) {
    const r = await apiGet<ListArtifactsResponse>("/api/2.0/mlflow-artifacts/artifacts", { path: join(root.proxied, dir) }, signal);
    // names come relative to the listed folder
    files = (r.files ?? []).map((f) => ({ ...f, path: join(dir, f.path.split("/").pop() ?? f.path) }));
  } else {
    const r = await apiGet<ListArtifactsResponse>("/api/2.0/mlflow/artifacts/list", { run_id: root.runId, path: dir || undefined }, signal);
    files = r.files ?? [];
  }
  return files.sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
}

/** The download URL of a run-relative file. */
export function artifactUrl(root: ArtifactRoot, path: string): string {
  if (root.proxied !== null) return `/api/2.0/mlflow-artifacts/artifacts/${encodePath(join(root.proxied, path))}`;
  return `/get-artifact?run_uuid=${encodeURIComponent(root.runId)}&path=${encodeURIComponent(path)}`;
}

export interface Head {
  bytes: Uint8Array;
  /** the file goes on past what was read */
  partial: boolean;
}

/** The first `limit` bytes of a file (one range request; a server that ignores ranges is cut
 * off after `limit` bytes too). */
export async function fetchHead(url: string, limit: number, size: number | undefined, signal?: AbortSignal): Promise<Head> {
  const response = await fetch(url, { headers: { Range: `bytes=0-${limit - 1}` }, signal });
  if (!response.ok) throw new Error(`Download failed: HTTP ${response.status}`);
  const reader = response.body?.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (reader) {
    while (total < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(total, limit));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.length, bytes.length - at));
    bytes.set(part, at);
    at += part.length;
    if (at >= bytes.length) break;
  }
  const known = size ?? Number(response.headers.get("Content-Range")?.split("/")[1] ?? NaN);
  const partial = Number.isFinite(known) ? known > bytes.length : total > limit;
  return { bytes, partial };
}

export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}
