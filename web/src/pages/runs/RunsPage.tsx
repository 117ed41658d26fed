import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { earlyExperiment, earlyRuns, earlySummary, experimentSummaries, getExperiment, searchRuns, setRunsDeleted } from "../../api/mlflow";
import type { Run, SearchRunsRequest, SearchRunsResponse } from "../../api/types";
import { byCodePoint, formatCount, plural } from "../../lib/format";
import { whenIdle } from "../../lib/idle";
import { useSession } from "../auth/session";
import type { KnownKeys } from "./autocomplete";
import { ColumnChooser } from "./ColumnChooser";
import { columnId, columnLabel, DEFAULT_ATTRIBUTES, searchKey } from "./columns";
import { toCsv } from "./csv";
import { FilterBox } from "./FilterBox";
import { cellValue, runRow, type RunRow } from "./runRow";
import { RunsTable } from "./RunsTable";
import { ExperimentTabs } from "../traces/ExperimentTabs";
import { buildTree, flattenTree } from "./tree";
import { decodeView, encodeView, orderText, AGGREGATES, type Aggregate, type RunsViewState } from "./urlState";
import { policyMetrics, registeredVersions, renameRun } from "./api";
import { pinnedFirst, runColor, toggled, useRunPrefs } from "./runPrefs";
import { applyView } from "./savedViews";
import { SavedViews } from "./SavedViews";
import "./runs.css";

const PermissionsPanel = lazy(() => import("../auth/PermissionsPanel").then((m) => ({ default: m.PermissionsPanel })));
const HistoryPanel = lazy(() => import("../audit/HistoryPanel").then((m) => ({ default: m.HistoryPanel })));
const ExperimentInsights = lazy(() => import("../insights/ExperimentInsights").then((m) => ({ default: m.ExperimentInsights })));
const INSIGHTS_KEY = "cairn.insights.hidden";
// the chart view and the grouped table load on first use: the table's first rows never wait for them
const ChartView = lazy(() => import("./ChartView").then((m) => ({ default: m.ChartView })));
const GroupedRuns = lazy(() => import("./GroupedRuns").then((m) => ({ default: m.GroupedRuns })));
const RetentionPanel = lazy(() => import("../retention/RetentionPanel").then((m) => ({ default: m.RetentionPanel })));

const FIRST_PAGE = 50; // a screenful; index.html asks for the same page early
const NEXT_PAGES = 1000;
const SELECT_ALL_LIMIT = 500;
const DEFAULT_METRICS = 6;
const REFRESH_MS = 5000; // while a loaded run is RUNNING
const DEFAULT_PARAMS = 4;

const keysCache = new WeakMap<SearchRunsResponse, { params: Set<string>; metrics: Set<string>; tags: Set<string>; latest: Map<string, number>; datasets: Set<string> }>();

/** The keys of one page of runs, computed once per page. */
function pageKeys(page: SearchRunsResponse) {
  let k = keysCache.get(page);
  if (k) return k;
  k = { params: new Set(), metrics: new Set(), tags: new Set(), latest: new Map(), datasets: new Set() };
  for (const run of page.runs ?? []) {
    for (const p of run.data.params ?? []) k.params.add(p.key);
    for (const m of run.data.metrics ?? []) {
      k.metrics.add(m.key);
      const t = Number(m.timestamp ?? 0);
      if (t > (k.latest.get(m.key) ?? -Infinity)) k.latest.set(m.key, t);
    }
    for (const d of run.inputs?.dataset_inputs ?? []) if (d.dataset?.name) k.datasets.add(d.dataset.name);
    for (const t of run.data.tags ?? []) k.tags.add(t.key);
  }
  keysCache.set(page, k);
  return k;
}

function orderedColumnsOf(columns: string[], pinned: string[]): string[] {
  return [...pinned.filter((p) => columns.includes(p)), ...columns.filter((c) => !pinned.includes(c))];
}

function quoteValue(v: string): string {
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function RunsPage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const view = useMemo(() => decodeView(params), [params]);
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set());
  const [prefs, updatePrefs] = useRunPrefs(id);
  const [paused, setPaused] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);

  const setView = useCallback(
    (patch: Partial<RunsViewState>) => {
      setParams((current) => encodeView({ ...decodeView(current), ...patch }, current), { replace: true });
    },
    [setParams],
  );

  // index.html asked for these early; when their answers came in time the first render has them
  const experiment = useQuery({
    queryKey: ["experiment", id],
    queryFn: ({ signal }) => getExperiment(id, signal),
    initialData: () => earlyExperiment(id),
  });
  const summary = useQuery({
    queryKey: ["experiment-summaries", [id]],
    queryFn: ({ signal }) => experimentSummaries([id], signal),
    initialData: () => earlySummary(id),
  });

  const orderBy = view.order ? [orderText(view.order)] : [];
  const search = (pageToken: string | undefined): SearchRunsRequest => ({
    experiment_ids: [id],
    filter: view.filter || undefined,
    order_by: orderBy,
    max_results: pageToken ? NEXT_PAGES : FIRST_PAGE,
    page_token: pageToken,
    run_view_type: view.deleted ? "ALL" : "ACTIVE_ONLY",
  });
  const runs = useInfiniteQuery({
    queryKey: ["runs", id, view.filter, orderBy, view.deleted],
    queryFn: ({ pageParam, signal }) => searchRuns(search(pageParam), signal),
    initialData: () => {
      const first = earlyRuns(search(undefined));
      return first && { pages: [first], pageParams: [undefined] };
    },
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_page_token || undefined,
    staleTime: 30_000,
    // a new filter or order keeps the old rows on screen until its answer comes
    placeholderData: keepPreviousData,
    // while a loaded run is RUNNING the rows refresh every few seconds (unless paused)
    refetchInterval: (q) =>
      !paused && q.state.data?.pages.some((pg) => pg.runs?.some((r) => r.info.status === "RUNNING")) ? REFRESH_MS : false,
  });

  const pages = runs.data?.pages;
  const loaded = useMemo<RunRow[]>(() => {
    const out: RunRow[] = [];
    for (const page of pages ?? []) for (const run of page.runs ?? []) out.push(runRow(run as Run));
    return out;
  }, [pages]);

  // the keys of the last runs seen, so completion and the chooser still work after a filter
  // that matched nothing or failed
  const lastKeys = useRef<KnownKeys>({ params: [], metrics: [], tags: [] });
  const keys = useMemo<KnownKeys>(() => {
    const params = new Set<string>();
    const metrics = new Set<string>();
    const tags = new Set<string>();
    for (const page of pages ?? []) {
      const k = pageKeys(page);
      k.params.forEach((x) => params.add(x));
      k.metrics.forEach((x) => metrics.add(x));
      k.tags.forEach((x) => tags.add(x));
    }
    const sorted = (s: Set<string>) => [...s].sort(byCodePoint);
    if (!params.size && !metrics.size && !tags.size) return lastKeys.current;
    lastKeys.current = { params: sorted(params), metrics: sorted(metrics), tags: sorted(tags) };
    return lastKeys.current;
  }, [pages]);

  // the metrics by when they were last logged (newest first), and the datasets the runs used
  const { recentMetrics, datasets } = useMemo(() => {
    const latest = new Map<string, number>();
    const names = new Set<string>();
    for (const page of pages ?? []) {
      const k = pageKeys(page);
      k.latest.forEach((t, key) => latest.set(key, Math.max(t, latest.get(key) ?? -Infinity)));
      k.datasets.forEach((d) => names.add(d));
    }
    const recent = [...latest.entries()].sort((a, b) => b[1] - a[1] || byCodePoint(a[0], b[0])).map(([key]) => key);
    return { recentMetrics: recent, datasets: [...names].sort(byCodePoint) };
  }, [pages]);

  // after the first rows: the registry versions made from the loaded runs, and the metrics
  // their models' alias and promotion policies judge by
  const loadedIds = useMemo(() => loaded.slice(0, NEXT_PAGES).map((r) => r.id), [loaded]);
  const registered = useQuery({
    queryKey: ["registered-from", loadedIds],
    queryFn: ({ signal }) => registeredVersions(loadedIds, signal),
    enabled: runs.isSuccess && loadedIds.length > 0,
    staleTime: 30_000,
    placeholderData: keepPreviousData,
  });
  const models = useMemo(() => {
    const names = new Set<string>();
    for (const list of registered.data?.values() ?? []) for (const v of list) names.add(v.name);
    return [...names].sort(byCodePoint);
  }, [registered.data]);
  const policyKeys = useQuery({
    queryKey: ["policy-metrics", models],
    queryFn: ({ signal }) => policyMetrics(models, signal),
    enabled: models.length > 0,
    staleTime: 60_000,
  });

  // until the user chooses: the metrics the registry's policies use, then the most recently
  // logged ones; the "Registered as" column when a run was registered; then the first params
  const columns = useMemo(() => {
    if (view.columns !== null) return view.columns;
    const metricKeys = [...(policyKeys.data ?? []).filter((k) => keys.metrics.includes(k)), ...recentMetrics];
    return [
      ...DEFAULT_ATTRIBUTES,
      ...[...new Set(metricKeys)].slice(0, DEFAULT_METRICS).map((k) => columnId("metrics", k)),
      ...(models.length ? ["attributes.registered"] : []),
      ...keys.params.slice(0, DEFAULT_PARAMS).map((k) => columnId("params", k)),
    ];
  }, [view.columns, keys, recentMetrics, policyKeys.data, models.length]);
  const orderedColumns = useMemo(() => orderedColumnsOf(columns, view.pinned), [columns, view.pinned]);

  const ordered = useMemo(() => pinnedFirst(loaded, (r) => r.id, prefs.pinned), [loaded, prefs.pinned]);
  const tree = useMemo(() => buildTree(ordered, (r) => ({ id: r.id, parentId: r.parentId })), [ordered]);
  const rows = useMemo(() => flattenTree(tree, expanded, (r) => r.id), [tree, expanded]);
  // the selection is React state first (a checkbox must show its new state in the same
  // event, and URL updates are transitions), mirrored into the URL
  const selParam = params.get("sel") ?? "";
  const [selection, setSelection] = useState<string[]>(view.selected);
  useEffect(() => {
    const fromUrl = decodeView(new URLSearchParams({ sel: selParam })).selected;
    // the same selection keeps its array, so the table does not redraw for nothing
    setSelection((cur) => (cur.length === fromUrl.length && cur.every((s, i) => s === fromUrl[i]) ? cur : fromUrl));
  }, [selParam]);
  const selected = useMemo(() => new Set(selection), [selection]);
  const select = useCallback(
    (next: string[]) => {
      setSelection(next);
      setView({ selected: next });
    },
    [setView],
  );

  // delete or restore the selected runs (the selection's loaded rows tell which are which)
  const queryClient = useQueryClient();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const { authEnabled } = useSession();
  const [showPermissions, setShowPermissions] = useState(false);
  const [showHistory, setShowHistory] = useState(false);
  const [showInsights, setShowInsights] = useState(() => localStorage.getItem(INSIGHTS_KEY) !== "1");
  const toggleInsights = () => {
    const next = !showInsights;
    if (next) localStorage.removeItem(INSIGHTS_KEY);
    else localStorage.setItem(INSIGHTS_KEY, "1");
    setShowInsights(next);
  };
  const [showRetention, setShowRetention] = useState(false);
  const selectedRows = useMemo(() => loaded.filter((r) => selected.has(r.id)), [loaded, selected]);
  const toDelete = selectedRows.filter((r) => !r.deleted).map((r) => r.id);
  const toRestore = selectedRows.filter((r) => r.deleted).map((r) => r.id);
  const changeRuns = useMutation({
    mutationFn: ({ ids, deleted }: { ids: string[]; deleted: boolean }) => setRunsDeleted(ids, deleted),
    onSettled: () => {
      setConfirmDelete(false);
      void queryClient.invalidateQueries({ queryKey: ["runs", id] });
      void queryClient.invalidateQueries({ queryKey: ["experiment-summaries"] });
    },
    onSuccess: () => select([]),
  });
  useEffect(() => setConfirmDelete(false), [selection]);

  // rename a run inline (F2 or the pencil in its name cell)
  const rename = useMutation({
    mutationFn: ({ runId, name }: { runId: string; name: string }) => renameRun(runId, name),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["runs", id] }),
  });
  const onRename = useCallback(
    (runId: string, name: string | null) => {
      setEditing(null);
      if (name !== null) rename.mutate({ runId, name });
    },
    [rename.mutate],
  );
  const onRunAction = useCallback(
    (action: "rename" | "pin", runId: string) => {
      if (action === "rename") setEditing(runId);
      else updatePrefs((p) => ({ ...p, pinned: toggled(p.pinned, runId) }));
    },
    [updatePrefs],
  );
  const colorOf = useCallback((runId: string) => runColor(prefs, runId), [prefs.colors]);
  const pinnedRuns = useMemo(() => new Set(prefs.pinned), [prefs.pinned]);
  const anyRunning = useMemo(() => loaded.some((r) => r.run.info.status === "RUNNING"), [loaded]);
  const chartRunsList = useMemo(() => ordered.map((r) => ({ id: r.id, name: r.name, status: r.run.info.status })), [ordered]);
  const metricColumns = useMemo(() => orderedColumnsOf(columns, view.pinned).filter((c) => c.startsWith("metrics.")), [columns, view.pinned]);
  const datasetFilter = /^datasets\.name = '((?:[^'\\]|\\.)*)'$/.exec(view.filter.trim())?.[1]?.replace(/\\(.)/g, "$1") ?? "";

  const filterError = runs.error instanceof ApiError && runs.error.status === 400 ? runs.error.message : null;
  const otherError = runs.isError && !filterError ? String(runs.error instanceof ApiError ? runs.error.message : runs.error) : null;

  const onSort = useCallback(
    (col: string) => {
      const key = col === "attributes.run_name" ? col : searchKey(col);
      if (!key) return;
      const cur = view.order;
      // newest/highest first, then lowest first, then the server's default order
      if (!cur || cur.key !== key) setView({ order: { key, desc: true } });
      else if (cur.desc) setView({ order: { key, desc: false } });
      else setView({ order: null });
    },
    [view.order, setView],
  );

  const onToggleSelect = useCallback(
    (runId: string) => select(selection.includes(runId) ? selection.filter((s) => s !== runId) : [...selection, runId]),
    [selection, select],
  );
  const onToggleAll = useCallback(() => {
    const all = rows.length > 0 && rows.every((r) => selected.has(r.item.id));
    select(all ? [] : rows.slice(0, SELECT_ALL_LIMIT).map((r) => r.item.id));
  }, [rows, selected, select]);
  const onToggleExpand = useCallback((runId: string) => {
    setExpanded((cur) => {
      const next = new Set(cur);
      if (next.has(runId)) next.delete(runId);
      else next.add(runId);
      return next;
    });
  }, []);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = runs;
  const onNearEnd = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  // the next page comes a second after the first screenful, when the browser is idle, so it
  // is there before the user scrolls to it without competing with the first rows or the first
  // clicks (scrolling near the end asks for it at once)
  const pageCount = pages?.length ?? 0;
  useEffect(() => {
    if (pageCount !== 1 || !hasNextPage) return;
    return whenIdle(onNearEnd, 1000);
  }, [pageCount, hasNextPage, onNearEnd]);

  const parentsLoaded = tree.children.size;
  const expandAll = () => setExpanded(new Set(tree.children.keys()));

  const exportCsv = () => {
    const header = ["run_id", "run_name", ...orderedColumns.map((c) => (c.startsWith("attributes.") ? columnLabel(c).toLowerCase() : c))];
    const now = Date.now();
    const body = loaded.map((r) => [r.id, r.name, ...orderedColumns.map((c) => cellValue(r, c, now))]);
    const name = (experiment.data?.name ?? `experiment-${id}`).replace(/[^\w.-]+/g, "_");
    download(`${name}-runs.csv`, toCsv(header, body));
  };

  const total = summary.data?.get(id)?.run_count;
  const countText = !runs.isSuccess
    ? ""
    : view.filter
      ? `${plural(loaded.length, "run")} match${loaded.length === 1 ? "es" : ""}${runs.hasNextPage ? " so far (scroll for more)" : ""}`
      : total !== undefined && runs.hasNextPage
        ? `${formatCount(loaded.length)} of ${plural(total, "run")} loaded`
        : plural(loaded.length, "run");

  const noRunsAtAll = runs.isSuccess && loaded.length === 0 && !view.filter;
  const noMatches = runs.isSuccess && loaded.length === 0 && !!view.filter;

  if (experiment.error instanceof ApiError && experiment.error.status === 404) {
    return (
      <div className="page">
        <div className="empty-state" role="alert">
          <h2>Experiment not found</h2>
          <p>
            No experiment has the id <code>{id}</code> here (it may have been deleted for good, or the link came from
            another server). <Link to="/">Back to the experiments</Link>
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="page runs-page">
      <div className="runs-head">
        <div>
          <nav className="crumbs" aria-label="Breadcrumb">
            <Link to="/">Experiments</Link> <span aria-hidden="true">/</span>
          </nav>
          <h1>{experiment.data?.name ?? (experiment.isError ? "Experiment not found" : "…")}</h1>
          <p className="muted run-count" data-testid="run-count">
            {countText}
            {experiment.data?.lifecycle_stage === "deleted" && <span className="badge deleted-badge"> deleted</span>}
          </p>
        </div>
        <div className="head-actions">
          <div className="seg" role="group" aria-label="Show runs as">
            <button type="button" className={`btn${view.charts ? "" : " on"}`} aria-pressed={!view.charts} onClick={() => setView({ charts: false })} data-testid="table-toggle">
              Table
            </button>
            <button type="button" className={`btn${view.charts ? " on" : ""}`} aria-pressed={view.charts} onClick={() => setView({ charts: true })} data-testid="charts-toggle">
              Charts
            </button>
          </div>
          <button
            type="button"
            className="btn primary"
            disabled={selection.length < 2}
            title={selection.length < 2 ? "Select two or more runs to compare" : undefined}
            onClick={() => navigate(`/compare?runs=${selection.join(",")}`)}
          >
            Compare{selection.length ? ` (${selection.length})` : ""}
          </button>
          {toRestore.length > 0 && (
            <button type="button" className="btn" disabled={changeRuns.isPending} onClick={() => changeRuns.mutate({ ids: toRestore, deleted: false })}>
              Restore ({toRestore.length})
            </button>
          )}
          {toDelete.length > 0 &&
            (confirmDelete ? (
              <>
                <button type="button" className="btn danger" disabled={changeRuns.isPending} onClick={() => changeRuns.mutate({ ids: toDelete, deleted: true })}>
                  Confirm delete ({toDelete.length})
                </button>
                <button type="button" className="btn" onClick={() => setConfirmDelete(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" className="btn ghost danger" onClick={() => setConfirmDelete(true)}>
                Delete ({toDelete.length})
              </button>
            ))}
          <button type="button" className="btn" onClick={exportCsv} disabled={!loaded.length}>
            Export CSV
          </button>
          <button type="button" className="btn" aria-expanded={showInsights} onClick={toggleInsights} data-testid="insights-toggle">
            Insights
          </button>
          <button type="button" className="btn" aria-expanded={showHistory} onClick={() => setShowHistory(!showHistory)} data-testid="history-toggle">
            History
          </button>
          <button type="button" className="btn" aria-expanded={showRetention} onClick={() => setShowRetention(!showRetention)} data-testid="retention-toggle">
            Retention
          </button>
          {authEnabled && (
            <button type="button" className="btn" aria-expanded={showPermissions} onClick={() => setShowPermissions(!showPermissions)} data-testid="permissions-toggle">
              Permissions
            </button>
          )}
        </div>
      </div>
      <ExperimentTabs id={id} current="runs" />
      {showHistory && (
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <HistoryPanel subject={{ kind: "experiment", experimentId: id }} title="History: who changed this experiment and its runs" />
        </Suspense>
      )}
      {showRetention && (
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <RetentionPanel experimentId={id} />
        </Suspense>
      )}
      {authEnabled && showPermissions && (
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <PermissionsPanel kind="experiment" id={id} />
        </Suspense>
      )}

      {/* after the first rows: the panel's code and request never hold them up */}
      {showInsights && !view.charts && runs.isSuccess && !experiment.isError && (total ?? loaded.length) > 0 && (
        <Suspense fallback={<p className="muted">Loading insights…</p>}>
          <ExperimentInsights experimentId={id} />
        </Suspense>
      )}

      {experiment.isError && <div className="error-box">{experiment.error instanceof ApiError ? experiment.error.message : String(experiment.error)}</div>}

      <div className="runs-toolbar">
        <FilterBox value={view.filter} keys={keys} error={filterError} onApply={(f) => setView({ filter: f })} />
        <ColumnChooser
          keys={keys}
          columns={columns}
          pinned={view.pinned}
          onChange={(c, p) => setView({ columns: c, pinned: p })}
          onReset={() => setView({ columns: null, pinned: [] })}
        />
        <label className="check">
          <input type="checkbox" checked={view.deleted} onChange={(e) => setView({ deleted: e.target.checked })} />
          Show deleted
        </label>
        {parentsLoaded > 0 && (
          <button type="button" className="btn" onClick={expanded.size ? () => setExpanded(new Set()) : expandAll}>
            {expanded.size ? "Collapse all" : "Expand all"}
          </button>
        )}
      </div>

      <div className="runs-toolbar runs-toolbar-2">
        <label className="inline-field">
          Group by{" "}
          <select
            className="input"
            aria-label="Group by"
            value={view.group ?? ""}
            onChange={(e) => setView({ group: e.target.value || null })}
          >
            <option value="">(no grouping)</option>
            {keys.params.length > 0 && (
              <optgroup label="Params">
                {keys.params.map((k) => (
                  <option key={`p${k}`} value={columnId("params", k)}>
                    {k}
                  </option>
                ))}
              </optgroup>
            )}
            {keys.tags.some((k) => !k.startsWith("mlflow.")) && (
              <optgroup label="Tags">
                {keys.tags
                  .filter((k) => !k.startsWith("mlflow."))
                  .map((k) => (
                    <option key={`t${k}`} value={columnId("tags", k)}>
                      {k}
                    </option>
                  ))}
              </optgroup>
            )}
          </select>
        </label>
        {view.group && (
          <select className="input" aria-label="Aggregate metrics by" value={view.agg} onChange={(e) => setView({ agg: e.target.value as Aggregate })}>
            {AGGREGATES.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        )}
        {(datasets.length > 0 || datasetFilter) && (
          <label className="inline-field">
            Dataset{" "}
            <select
              className="input"
              aria-label="Dataset"
              value={datasetFilter}
              onChange={(e) => setView({ filter: e.target.value ? `datasets.name = ${quoteValue(e.target.value)}` : "" })}
            >
              <option value="">(any)</option>
              {[...new Set([...datasets, ...(datasetFilter ? [datasetFilter] : [])])].map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
        )}
        <SavedViews
          experimentId={id}
          current={view.savedView}
          params={params}
          onOpen={(v) => setParams((cur) => applyView(cur, v), { replace: false })}
          onSaved={(name) => setView({ savedView: name })}
          ready={runs.isSuccess}
        />
        {anyRunning && (
          <button type="button" className="btn refresh-toggle" aria-pressed={!paused} onClick={() => setPaused(!paused)} data-testid="refresh-toggle" title={paused ? "Refresh the running runs every 5 seconds" : "Stop refreshing"}>
            {paused ? "Auto-refresh paused" : runs.isFetching && !runs.isFetchingNextPage ? "Refreshing…" : "Auto-refresh on"}
          </button>
        )}
      </div>

      {otherError && <div className="error-box">Could not load runs: {otherError}</div>}
      {rename.isError && (
        <div className="error-box" role="alert">
          Could not rename the run: {rename.error instanceof ApiError ? rename.error.message : String(rename.error)}
        </div>
      )}
      {changeRuns.isError && (
        <div className="error-box">
          Could not {changeRuns.variables?.deleted ? "delete" : "restore"} every selected run:{" "}
          {changeRuns.error instanceof ApiError ? changeRuns.error.message : String(changeRuns.error)}
        </div>
      )}

      {noRunsAtAll && (
        <div className="card empty-state" data-testid="no-runs">
          <h2>No runs in this experiment yet</h2>
          <p>Log one from Python with the stock MLflow client:</p>
          <pre>{`import mlflow
mlflow.set_tracking_uri("${window.location.origin}")
mlflow.set_experiment(${JSON.stringify(experiment.data?.name ?? "")})
with mlflow.start_run():
    mlflow.log_metric("loss", 0.42)`}</pre>
        </div>
      )}
      {noMatches && (
        <div className="card empty-state" data-testid="no-matches">
          <h2>No runs match this filter</h2>
          <p>
            <code>{view.filter}</code>
          </p>
        </div>
      )}
      {runs.isPending && <div className="muted loading">Loading runs…</div>}
      {view.charts && runs.isSuccess && (
        <Suspense fallback={<div className="muted loading">Loading charts…</div>}>
          <ChartView
            experimentId={id}
            runs={chartRunsList}
            selected={selection}
            metricKeys={keys.metrics}
            prefs={prefs}
            updatePrefs={updatePrefs}
            hasMore={!!runs.hasNextPage && !runs.isFetchingNextPage}
            loadingMore={runs.isFetchingNextPage}
            onLoadMore={onNearEnd}
          />
        </Suspense>
      )}
      {!view.charts && view.group && loaded.length > 0 && (
        <Suspense fallback={<div className="muted loading">Grouping…</div>}>
          <GroupedRuns
            rows={loaded}
            group={view.group}
            agg={view.agg}
            metricColumns={metricColumns}
            colorOf={colorOf}
            onFilter={(f) => setView({ filter: f, group: null })}
            partial={!!runs.hasNextPage}
          />
        </Suspense>
      )}
      {!view.charts && !view.group && rows.length > 0 && (
        <RunsTable
          busy={runs.isPlaceholderData}
          rows={rows}
          columns={orderedColumns}
          pinned={view.pinned}
          order={view.order}
          selected={selected}
          onSort={onSort}
          onToggleSelect={onToggleSelect}
          onToggleAll={onToggleAll}
          onToggleExpand={onToggleExpand}
          onNearEnd={onNearEnd}
          loadingMore={runs.isFetchingNextPage}
          hasMore={!!runs.hasNextPage}
          colorOf={colorOf}
          pinnedRuns={pinnedRuns}
          registered={registered.data}
          editing={editing}
          onRunAction={onRunAction}
          onRename={onRename}
        />
      )}
    </div>
  );
}
