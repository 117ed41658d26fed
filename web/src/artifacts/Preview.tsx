// A preview of one artifact, by kind; large files are read only in part, and the preview says so.
import { useEffect, useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import type { FileInfo } from "../api/types";
import { artifactUrl, decodeText, fetchHead, type ArtifactRoot } from "./api";
import { parseCsvPreview, type TablePreview } from "./csv";
import { highlight } from "./highlight";
import {
  artifactKind,
  baseName,
  formatBytes,
  IMAGE_PREVIEW_BYTES,
  languageOf,
  PARQUET_PREVIEW_ROWS,
  PREVIEW_BYTES,
  TABLE_PREVIEW_ROWS,
  type ArtifactKind,
} from "./kinds";
import { MarkdownView } from "./Markdown";
import { parseMLmodel, type ModelSummary, type SignatureColumn } from "./mlmodel";

interface Props {
  root: ArtifactRoot;
  file: FileInfo;
}

function Note({ children }: { children: React.ReactNode }) {
  return <p className="preview-note faint">{children}</p>;
}

function Table({ table, label }: { table: TablePreview; label: string }) {
  return (
    <div className="preview-table-wrap">
      <table className="preview-table" aria-label={label}>
        <thead>
          <tr>
            {table.fields.map((f, i) => (
              <th key={i}>{f}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((r, i) => (
            <tr key={i}>
              {table.fields.map((_, j) => (
                <td key={j}>{r[j] ?? ""}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Code({ text, kind }: { text: string; kind: ArtifactKind }) {
  const lang = languageOf(kind);
  const html = useMemo(() => (lang ? highlight(text, lang) : null), [text, lang]);
  return (
    <pre className="preview-code hljs" data-language={lang ?? "text"}>
      {html !== null ? <code dangerouslySetInnerHTML={{ __html: html }} /> : <code>{text}</code>}
    </pre>
  );
}

function prettyJson(text: string, partial: boolean): string {
  if (partial) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function Columns({ title, cols }: { title: string; cols: SignatureColumn[] | null }) {
  if (!cols) return null;
  return (
    <div className="mlmodel-sig">
      <h4>{title}</h4>
      <table className="preview-table compact" aria-label={`Signature ${title.toLowerCase()}`}>
        <thead>
          <tr>
            <th>name</th>
            <th>type</th>
          </tr>
        </thead>
        <tbody>
          {cols.map((c, i) => (
            <tr key={i}>
              <td>{c.name ?? <span className="faint">(unnamed)</span>}</td>
              <td className="mono">
                {c.type}
                {c.optional ? " (optional)" : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MLmodelSummary({ m }: { m: ModelSummary }) {
  return (
    <div className="mlmodel" data-testid="mlmodel-summary">
      <dl className="kv">
        {m.runId && (
          <>
            <dt>Run</dt>
            <dd className="mono">{m.runId}</dd>
          </>
        )}
        {m.modelId && (
          <>
            <dt>Model id</dt>
            <dd className="mono">{m.modelId}</dd>
          </>
        )}
        {m.artifactPath && (
          <>
            <dt>Artifact path</dt>
            <dd className="mono">{m.artifactPath}</dd>
          </>
        )}
        {m.created && (
          <>
            <dt>Created (UTC)</dt>
            <dd>{m.created}</dd>
          </>
        )}
        {m.mlflowVersion && (
          <>
            <dt>MLflow version</dt>
            <dd>{m.mlflowVersion}</dd>
          </>
        )}
      </dl>
      <h4>Flavours</h4>
      <ul className="flavors">
        {m.flavors.map((f) => (
          <li key={f.name}>
            <span className="badge">{f.name}</span>{" "}
            <span className="faint">{f.details.map(([k, v]) => `${k}: ${v}`).join(" · ")}</span>
          </li>
        ))}
      </ul>
      {m.inputs || m.outputs ? (
        <div className="mlmodel-sigs">
          <Columns title="Inputs" cols={m.inputs} />
          <Columns title="Outputs" cols={m.outputs} />
          <Columns title="Params" cols={m.params} />
        </div>
      ) : (
        <Note>No signature: the model was logged without an input example or signature.</Note>
      )}
    </div>
  );
}

function ParquetPreview({ url, size }: { url: string; size: number }) {
  const q = useQuery({
    queryKey: ["parquet", url, size],
    queryFn: async () => {
      const { asyncBufferFromUrl, parquetMetadataAsync, parquetReadObjects, cachedAsyncBuffer } = await import("hyparquet");
      const file = cachedAsyncBuffer(await asyncBufferFromUrl({ url, byteLength: size }));
      const metadata = await parquetMetadataAsync(file);
      const total = Number(metadata.num_rows);
      const rows = await parquetReadObjects({ file, metadata, rowStart: 0, rowEnd: Math.min(total, PARQUET_PREVIEW_ROWS) });
      const fields = metadata.schema.slice(1).filter((s) => !s.num_children).map((s) => s.name);
      const show = (v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Date ? v.toISOString() : typeof v === "object" && v !== null ? JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) : String(v ?? ""));
      const table: TablePreview = { fields, rows: rows.map((r) => fields.map((f) => show((r as Record<string, unknown>)[f]))), truncated: total > rows.length };
      return { table, total };
    },
    staleTime: Infinity,
  });
  if (q.isPending) return <Note>Reading the Parquet footer…</Note>;
  if (q.isError) return <div className="error-box">Cannot read this Parquet file: {String((q.error as Error).message)}</div>;
  const { table, total } = q.data;
  return (
    <>
      <Note>
        {total.toLocaleString()} rows × {table.fields.length} columns
        {table.truncated ? `; showing the first ${table.rows.length.toLocaleString()} (read with range requests, not downloaded whole)` : ""}
      </Note>
      <Table table={table} label="Parquet preview" />
    </>
  );
}

/** The HTML without its scripts (the frame would refuse to run them anyway, and say so on
 * the console), and how many were removed. */
export function withoutScripts(html: string): { html: string; removed: number } {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const scripts = doc.querySelectorAll("script");
  scripts.forEach((s) => s.remove());
  return { html: `<!doctype html>\n${doc.documentElement.outerHTML}`, removed: scripts.length };
}

function HtmlPreview({ html, partial }: { html: string; partial: boolean }) {
  const clean = useMemo(() => withoutScripts(html), [html]);
  // sandbox="" : no scripts, no forms, no top navigation, an opaque origin
  return (
    <>
      {partial && <Note>Only the first {formatBytes(PREVIEW_BYTES.html)} are shown.</Note>}
      {clean.removed > 0 && (
        <Note>
          Shown without its {clean.removed === 1 ? "script" : `${clean.removed} scripts`}: previews run no code. Download the file to see it
          whole.
        </Note>
      )}
      <iframe className="preview-html" sandbox="" srcDoc={clean.html} title="HTML preview" />
    </>
  );
}

export function Preview({ root, file }: Props) {
  const kind = artifactKind(file.path);
  const url = artifactUrl(root, file.path);
  const limit = PREVIEW_BYTES[kind];
  const head = useQuery({
    queryKey: ["artifact-head", url, limit],
    queryFn: ({ signal }) => fetchHead(url, limit!, file.file_size, signal),
    enabled: limit !== undefined,
    staleTime: 60_000,
  });
  const [imgError, setImgError] = useState(false);
  useEffect(() => setImgError(false), [url]);
  const name = baseName(file.path);

  let body: React.ReactNode = null;
  if (kind === "image") {
    body =
      (file.file_size ?? 0) > IMAGE_PREVIEW_BYTES ? (
        <Note>This image is {formatBytes(file.file_size)}; download it to view.</Note>
      ) : imgError ? (
        <div className="error-box">This image cannot be shown by the browser.</div>
      ) : (
        <img className="preview-image" src={url} alt={name} onError={() => setImgError(true)} />
      );
  } else if (kind === "audio") {
    body = (
      <audio className="preview-media" controls preload="metadata" src={url} data-testid="audio-preview">
        <a href={url}>Download {name}</a>
      </audio>
    );
  } else if (kind === "video") {
    body = (
      <video className="preview-media preview-video" controls preload="metadata" src={url} data-testid="video-preview">
        <a href={url}>Download {name}</a>
      </video>
    );
  } else if (kind === "pdf") {
    // the browser's own PDF viewer, reading the file with range requests; a browser without
    // one shows the fallback inside
    body = (
      <object className="preview-pdf" data={url} type="application/pdf" aria-label={`PDF ${name}`} data-testid="pdf-preview">
        <Note>
          This browser shows no PDFs inline. <a href={url}>Open {name}</a>
        </Note>
      </object>
    );
  } else if (kind === "parquet") {
    body = <ParquetPreview url={url} size={file.file_size ?? 0} />;
  } else if (kind === "other") {
    body = <Note>No preview for this kind of file. Download it to open it.</Note>;
  } else if (head.isPending) {
    body = <Note>Loading…</Note>;
  } else if (head.isError) {
    body = <div className="error-box">{String((head.error as Error).message)}</div>;
  } else {
    const { bytes, partial } = head.data;
    const text = decodeText(bytes);
    const cut = partial ? <Note>Only the first {formatBytes(bytes.length)} of {formatBytes(file.file_size)} are shown.</Note> : null;
    if (kind === "csv" || kind === "tsv") {
      const table = parseCsvPreview(text, partial, TABLE_PREVIEW_ROWS, kind === "tsv" ? "\t" : undefined);
      body = (
        <>
          <Note>
            {table.rows.length.toLocaleString()} rows × {table.fields.length} columns shown
            {table.truncated ? ` (the first ones; the file is ${formatBytes(file.file_size)})` : ""}
          </Note>
          <Table table={table} label="CSV preview" />
        </>
      );
    } else if (kind === "html") {
      body = <HtmlPreview html={text} partial={partial} />;
    } else if (kind === "markdown") {
      body = (
        <>
          {cut}
          <MarkdownView text={text} />
          <details className="mlmodel-raw">
            <summary>Markdown source</summary>
            <Code text={text} kind="text" />
          </details>
        </>
      );
    } else if (kind === "mlmodel") {
      let summary: ModelSummary | null = null;
      let error: string | null = null;
      try {
        summary = parseMLmodel(text);
      } catch (e) {
        error = String((e as Error).message);
      }
      body = (
        <>
          {summary ? <MLmodelSummary m={summary} /> : <div className="error-box">Cannot read this MLmodel: {error}</div>}
          <details className="mlmodel-raw">
            <summary>MLmodel file</summary>
            <Code text={text} kind="yaml" />
          </details>
        </>
      );
    } else {
      body = (
        <>
          {cut}
          <Code text={kind === "json" ? prettyJson(text, partial) : text} kind={kind} />
        </>
      );
    }
  }

  return (
    <section className="artifact-preview" aria-label={`Preview of ${file.path}`} data-kind={kind}>
      <header className="preview-head">
        <span className="mono preview-path">{file.path}</span>
        <span className="faint">{formatBytes(file.file_size)}</span>
        <a className="btn small" href={url} download={name}>
          Download
        </a>
      </header>
      <div className="preview-body">{body}</div>
    </section>
  );
}
