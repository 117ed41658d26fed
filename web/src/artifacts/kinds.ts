// What kind of preview a file gets, from its name alone.

export type ArtifactKind =
  | "image"
  | "text"
  | "json"
  | "yaml"
  | "python"
  | "ini"
  | "csv"
  | "tsv"
  | "parquet"
  | "html"
  | "mlmodel"
  | "markdown"
  | "pdf"
  | "audio"
  | "video"
  | "other";

const BY_EXTENSION: Record<string, ArtifactKind> = {
  png: "image",
  jpg: "image",
  jpeg: "image",
  gif: "image",
  webp: "image",
  svg: "image",
  bmp: "image",
  json: "json",
  jsonl: "text",
  geojson: "json",
  yaml: "yaml",
  yml: "yaml",
  py: "python",
  ini: "ini",
  cfg: "ini",
  conf: "ini",
  toml: "ini",
  properties: "ini",
  csv: "csv",
  tsv: "tsv",
  parquet: "parquet",
  pq: "parquet",
  html: "html",
  htm: "html",
  txt: "text",
  log: "text",
  md: "markdown",
  markdown: "markdown",
  pdf: "pdf",
  mp3: "audio",
  wav: "audio",
  ogg: "audio",
  oga: "audio",
  flac: "audio",
  m4a: "audio",
  aac: "audio",
  mp4: "video",
  webm: "video",
  ogv: "video",
  mov: "video",
  m4v: "video",
  rst: "text",
  text: "text",
  out: "text",
  err: "text",
  sh: "text",
  sql: "text",
};

export function baseName(path: string): string {
  const parts = path.split("/");
  return parts[parts.length - 1] ?? path;
}

export function extension(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

export function artifactKind(path: string): ArtifactKind {
  const name = baseName(path);
  if (name === "MLmodel") return "mlmodel";
  if (name === "Dockerfile" || name === "LICENSE" || name === "README") return "text";
  return BY_EXTENSION[extension(path)] ?? "other";
}

/** The highlight.js language for a kind (only these four are bundled). */
export function languageOf(kind: ArtifactKind): "json" | "yaml" | "python" | "ini" | null {
  return kind === "json" || kind === "yaml" || kind === "python" || kind === "ini" ? kind : kind === "mlmodel" ? "yaml" : null;
}

/** How many bytes of a file each preview reads (a range request); the rest is not fetched. */
export const PREVIEW_BYTES: Partial<Record<ArtifactKind, number>> = {
  text: 256 * 1024,
  json: 256 * 1024,
  yaml: 256 * 1024,
  python: 256 * 1024,
  ini: 256 * 1024,
  mlmodel: 256 * 1024,
  markdown: 256 * 1024,
  csv: 512 * 1024,
  tsv: 512 * 1024,
  html: 2 * 1024 * 1024,
};
export const TABLE_PREVIEW_ROWS = 500;
export const PARQUET_PREVIEW_ROWS = 200;
export const IMAGE_PREVIEW_BYTES = 25 * 1024 * 1024;

export function formatBytes(n: number | undefined): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
