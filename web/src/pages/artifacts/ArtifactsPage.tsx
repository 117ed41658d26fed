// The Artifacts tab: the files of many runs at once — one experiment's runs
// (/experiments/:id/artifacts) or every experiment's (/artifacts) — newest runs first, searched
// by path or name and filtered by type, with the chosen one previewed beside the list. The
// search, type and chosen artifact are in the URL.
import { useEffect, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { getExperiment, listExperiments } from "../../api/mlflow";
import { artifactUrl } from "../../artifacts/api";
import { formatBytes } from "../../artifacts/kinds";
import { Preview } from "../../artifacts/Preview";
import { plural, relativeTime } from "../../lib/format";
import { ErrorText } from "../../lib/widgets";
import { ExperimentTabs } from "../traces/ExperimentTabs";
import { searchArtifacts } from "./api";
import { artifactKey, isArtifactType, parseKey, previewTarget, runArtifactLink, THUMBNAIL_BYTES, TYPES, type ArtifactOut } from "./logic";
import "../../artifacts/artifacts.css";
import "./artifacts-page.css";

const ICONS: Record<string, string> = { model: "◆", image: "▣", config: "⚙", log: "≡", report: "¶", data: "▦", media: "▶", other: "·" };

function Thumb({ a }: { a: ArtifactOut }) {
  const [broken, setBroken] = useState(false);
  if (a.type === "image" && (a.file_size ?? 0) <= THUMBNAIL_BYTES && !broken) {
    const { root, file } = previewTarget(a);
    return <img className="art-thumb" src={artifactUrl(root, file.path)} alt="" loading="lazy" onError={() => setBroken(true)} />;
  }
  return (
    <span className={`art-thumb art-icon t-${a.type}`} aria-hidden="true">
      {ICONS[a.type] ?? "·"}
    </span>
  );
}

function Row({ a, selected, showExperiment, onSelect }: { a: ArtifactOut; selected: boolean; showExperiment: boolean; onSelect: () => void }) {
  const name = a.path.split("/").pop() ?? a.path;
  const folder = a.path.slice(0, a.path.length - name.length);
  return (
    <li className={`art-row${selected ? " selected" : ""}`} data-testid="artifact-row" data-type={a.type}>
      <button type="button" className="art-pick" onClick={onSelect} aria-current={selected ? "true" : undefined} aria-label={`${a.path} of run ${a.run_name ?? a.run_id}`}>
        <Thumb a={a} />
        <span className="art-name">
          <span className="mono">
            <span className="faint">{folder}</span>
            {name}
            {a.is_dir && !a.model_id ? "/" : ""}
          </span>
          <span className="art-meta faint">
            <span className="art-type">{a.type}</span>
            {a.model_id ? " · logged model" : ""}
            {a.is_dir ? ` · ${plural(a.files, "file")}` : ""} · {formatBytes(a.file_size ?? undefined)} · {relativeTime(a.run_start_time)}
          </span>
        </span>
      </button>
      <span className="art-run">
        <Link to={`/runs/${encodeURIComponent(a.run_id)}`} title={a.run_id}>
          {a.run_name || a.run_id.slice(0, 8)}
        </Link>
        {showExperiment && (
          <Link className="faint art-exp" to={`/experiments/${encodeURIComponent(a.experiment_id)}/artifacts`}>
            {a.experiment_name}
          </Link>
        )}
      </span>
    </li>
  );
}

export function ArtifactsPage() {
  const { id } = useParams();
  const [params, setParams] = useSearchParams();
  const experimentId = id ?? params.get("experiment") ?? "";
  const q = params.get("q") ?? "";
  const typeParam = params.get("type");
  const type = isArtifactType(typeParam) ? typeParam : null;
  const [draft, setDraft] = useState(q);
  useEffect(() => setDraft(q), [q]);

  const experiment = useQuery({ queryKey: ["experiment", id], queryFn: ({ signal }) => getExperiment(id!, signal), enabled: !!id });
  const experiments = useQuery({ queryKey: ["experiments", "ACTIVE_ONLY"], queryFn: ({ signal }) => listExperiments("ACTIVE_ONLY", signal), enabled: !id, staleTime: 60_000 });
  const list = useInfiniteQuery({
    queryKey: ["artifact-search", experimentId, q, type],
    queryFn: ({ pageParam, signal }) => searchArtifacts({ experimentId, q, type, pageToken: pageParam }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
  });
  const items = list.data?.pages.flatMap((p) => p.artifacts) ?? [];
  const scanned = list.data?.pages.reduce((n, p) => n + p.scanned_runs, 0) ?? 0;
  const chosen = parseKey(params.get("a"));
  const selected = chosen ? (items.find((a) => a.run_id === chosen.runId && a.path === chosen.path) ?? null) : (items[0] ?? null);

  const update = (changes: Record<string, string | null>, replace = true) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace, preventScrollReset: true });
  };

  if (id && experiment.error instanceof ApiError && experiment.error.status === 404) {
    return (
      <div className="page">
        <div className="empty-state" role="alert">
          <h2>Experiment not found</h2>
          <p>
            No experiment has the id <code>{id}</code> here. <Link to="/artifacts">All artifacts</Link> · <Link to="/">Back to the experiments</Link>
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="page artifacts-page" data-testid="artifacts-page">
      {id ? (
        <>
          <nav className="crumbs" aria-label="Breadcrumb">
            <Link to="/">Experiments</Link> <span aria-hidden="true">/</span>
          </nav>
          <h1>{experiment.data?.name ?? "…"}</h1>
          <ExperimentTabs id={id} current="artifacts" />
        </>
      ) : (
        <div className="page-head">
          <h1>Artifacts</h1>
          <label className="art-exp-pick">
            <span className="muted">Experiment</span>{" "}
            <select className="input" value={experimentId} onChange={(e) => update({ experiment: (e.target as HTMLSelectElement).value || null, a: null })} data-testid="artifact-experiment">
              <option value="">All experiments</option>
              {(experiments.data ?? []).map((e) => (
                <option key={e.experiment_id} value={e.experiment_id}>
                  {e.name}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      <form
        className="toolbar art-toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: draft.trim() || null, a: null });
        }}
      >
        <label className="sr-only" htmlFor="artifact-search">
          Search artifacts by path or name
        </label>
        <input
          id="artifact-search"
          className="input"
          data-testid="artifact-search"
          placeholder="Search by path or name, e.g. confusion or plots/"
          value={draft}
          onChange={(e) => setDraft((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && draft) {
              e.preventDefault();
              setDraft("");
              update({ q: null, a: null });
            }
          }}
        />
        <button type="submit" className="btn">
          Search
        </button>
        <div className="art-types" role="group" aria-label="Artifact type">
          <button type="button" className={`chip${type === null ? " on" : ""}`} aria-pressed={type === null} onClick={() => update({ type: null, a: null })}>
            All
          </button>
          {TYPES.map((t) => (
            <button key={t.key} type="button" className={`chip${type === t.key ? " on" : ""}`} aria-pressed={type === t.key} data-testid={`type-${t.key}`} onClick={() => update({ type: type === t.key ? null : t.key, a: null })}>
              {t.label}
            </button>
          ))}
        </div>
      </form>
      <p className="muted art-count" data-testid="artifact-count" aria-live="polite">
        {list.isPending
          ? "Looking through the runs…"
          : list.isError
            ? ""
            : `${plural(items.length, "artifact")}${list.hasNextPage ? " so far" : ""} in ${plural(scanned, "run")} looked at${id || experimentId ? "" : " across experiments"}`}
      </p>
      {list.isError ? (
        <div className="error-box" role="alert">
          <ErrorText error={list.error} />
        </div>
      ) : (
        <div className="art-layout">
          <div className="art-list-pane">
            {items.length === 0 && !list.isPending ? (
              <div className="empty-state small">
                <p>
                  {q || type ? "No artifact matches." : "No artifacts yet."} Runs log files with <code>mlflow.log_artifact("plot.png")</code>, <code>mlflow.log_dict(cfg, "config.json")</code> or{" "}
                  <code>mlflow.log_text(report, "report.md")</code>.
                </p>
              </div>
            ) : (
              <ul className="art-list" aria-label="Artifacts">
                {items.map((a) => (
                  <Row key={artifactKey(a)} a={a} selected={selected !== null && artifactKey(selected) === artifactKey(a)} showExperiment={!id && !experimentId} onSelect={() => update({ a: artifactKey(a) })} />
                ))}
              </ul>
            )}
            {list.hasNextPage && (
              <button type="button" className="btn art-more" data-testid="artifact-more" disabled={list.isFetchingNextPage} onClick={() => list.fetchNextPage()}>
                {list.isFetchingNextPage ? "Loading…" : "Look through older runs"}
              </button>
            )}
          </div>
          <div className="art-preview-pane">
            {selected ? (
              <>
                <p className="art-preview-run">
                  Run <Link to={`/runs/${encodeURIComponent(selected.run_id)}`}>{selected.run_name || selected.run_id}</Link>
                  {" · "}
                  <Link to={runArtifactLink(selected)} data-testid="open-in-run">
                    {selected.model_id ? "the run's models" : "open in the run's artifacts"}
                  </Link>
                </p>
                <Preview key={artifactKey(selected)} {...previewTarget(selected)} />
              </>
            ) : (
              <p className="faint preview-note">{items.length ? "Choose an artifact to preview it." : ""}</p>
            )}
          </div>
        </div>
      )}
    </div>
  );
}
