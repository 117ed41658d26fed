// A run's artifacts: a folder tree (folders load when opened) beside a preview of the chosen
// file. The chosen file is in the URL (?artifact=path) so a preview can be linked to.
import { useState } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import type { FileInfo } from "../api/types";
import { artifactUrl, listArtifacts, type ArtifactRoot } from "./api";
import { artifactKind, baseName, formatBytes } from "./kinds";
import { Preview } from "./Preview";
import "./artifacts.css";

const ICONS: Record<string, string> = {
  image: "▣",
  csv: "▦",
  tsv: "▦",
  parquet: "▦",
  html: "◫",
  mlmodel: "◆",
  markdown: "¶",
  pdf: "▤",
  audio: "♪",
  video: "▶",
  other: "·",
};

function Folder({ root, dir, depth, selected, onSelect }: { root: ArtifactRoot; dir: string; depth: number; selected: string | null; onSelect: (f: FileInfo) => void }) {
  const q = useQuery({ queryKey: ["artifacts", root.runId, dir], queryFn: ({ signal }) => listArtifacts(root, dir, signal) });
  const [open, setOpen] = useState<Set<string>>(() => new Set(selected ? ancestors(selected) : []));
  if (q.isPending) return <li className="faint tree-note" style={{ paddingLeft: depth * 14 + 8 }}>Loading…</li>;
  if (q.isError) return <li className="error-box">{String((q.error as Error).message)}</li>;
  if (q.data.length === 0 && depth === 0) return null;
  return (
    <>
      {q.data.map((f) => {
        const name = baseName(f.path);
        if (f.is_dir) {
          const isOpen = open.has(f.path);
          return (
            <li key={f.path}>
              <button
                type="button"
                className="tree-row"
                style={{ paddingLeft: depth * 14 + 8 }}
                aria-expanded={isOpen}
                onClick={() =>
                  setOpen((o) => {
                    const n = new Set(o);
                    if (n.has(f.path)) n.delete(f.path);
                    else n.add(f.path);
                    return n;
                  })
                }
              >
                <span className="tree-icon">{isOpen ? "▾" : "▸"}</span> {name}/
              </button>
              {isOpen && (
                <ul className="tree">
                  <Folder root={root} dir={f.path} depth={depth + 1} selected={selected} onSelect={onSelect} />
                </ul>
              )}
            </li>
          );
        }
        const kind = artifactKind(f.path);
        return (
          <li key={f.path}>
            <button
              type="button"
              className={`tree-row${selected === f.path ? " selected" : ""}`}
              style={{ paddingLeft: depth * 14 + 8 }}
              aria-current={selected === f.path ? "true" : undefined}
              onClick={() => onSelect(f)}
            >
              <span className="tree-icon">{ICONS[kind] ?? "≡"}</span> {name}
              <span className="tree-size faint">{formatBytes(f.file_size)}</span>
            </button>
          </li>
        );
      })}
    </>
  );
}

function ancestors(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

export function ArtifactBrowser({ root }: { root: ArtifactRoot }) {
  const [search, setSearch] = useSearchParams();
  const selectedPath = search.get("artifact");
  const top = useQuery({ queryKey: ["artifacts", root.runId, ""], queryFn: ({ signal }) => listArtifacts(root, "", signal) });
  // the selected file's size comes from its folder listing
  const parent = selectedPath && selectedPath.includes("/") ? selectedPath.slice(0, selectedPath.lastIndexOf("/")) : "";
  const listing = useQuery({
    queryKey: ["artifacts", root.runId, parent],
    queryFn: ({ signal }) => listArtifacts(root, parent, signal),
    enabled: !!selectedPath,
  });
  const selected = selectedPath ? (listing.data?.find((f) => f.path === selectedPath && !f.is_dir) ?? null) : null;
  const select = (f: FileInfo) => {
    const next = new URLSearchParams(search);
    next.set("artifact", f.path);
    setSearch(next, { replace: true, preventScrollReset: true });
  };

  if (top.isSuccess && top.data.length === 0) {
    return (
      <div className="empty-state small">
        <p>
          No artifacts. Log files with <code>mlflow.log_artifact("plot.png")</code> or <code>mlflow.log_dict(cfg, "config.json")</code>.
        </p>
      </div>
    );
  }
  return (
    <div className="artifact-browser">
      <nav className="artifact-tree" aria-label="Artifacts">
        <ul className="tree">
          <Folder root={root} dir="" depth={0} selected={selectedPath} onSelect={select} />
        </ul>
      </nav>
      <div className="artifact-pane">
        {selected ? (
          <Preview key={selected.path} root={root} file={selected} />
        ) : selectedPath && listing.isSuccess ? (
          <div className="error-box">
            No file <code>{selectedPath}</code> in this run. <a href={artifactUrl(root, selectedPath)}>Try downloading it</a>
          </div>
        ) : (
          <p className="faint preview-note">Choose a file to preview it.</p>
        )}
      </div>
    </div>
  );
}
