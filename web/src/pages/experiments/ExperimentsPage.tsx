import { useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import {
  createExperiment,
  deleteExperiment,
  experimentSummaries,
  listExperiments,
  renameExperiment,
  restoreExperiment,
} from "../../api/mlflow";
import type { Experiment } from "../../api/types";
import { formatCount, formatTimestamp, plural, relativeTime } from "../../lib/format";
import "./experiments.css";

type SortKey = "name" | "runs" | "activity" | "created";

function errorText(e: unknown): string {
  return e instanceof ApiError ? e.message : String(e);
}

export function ExperimentsPage() {
  const [params, setParams] = useSearchParams();
  const showDeleted = params.get("deleted") === "1";
  const search = params.get("q") ?? "";
  const sort = (params.get("sort") as SortKey | null) ?? "activity";
  const queryClient = useQueryClient();
  const navigate = useNavigate();

  const experiments = useQuery({
    queryKey: ["experiments", showDeleted ? "ALL" : "ACTIVE_ONLY"],
    queryFn: ({ signal }) => listExperiments(showDeleted ? "ALL" : "ACTIVE_ONLY", signal),
  });
  const ids = useMemo(() => (experiments.data ?? []).map((e) => e.experiment_id), [experiments.data]);
  const summaries = useQuery({
    queryKey: ["experiment-summaries", ids],
    queryFn: ({ signal }) => experimentSummaries(ids, signal),
    enabled: ids.length > 0,
  });

  const setParam = (key: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  const invalidate = () => {
    void queryClient.invalidateQueries({ queryKey: ["experiments"] });
    void queryClient.invalidateQueries({ queryKey: ["experiment-summaries"] });
  };

  const rows = useMemo(() => {
    const term = search.trim().toLowerCase();
    const list = (experiments.data ?? []).filter((e) => !term || e.name.toLowerCase().includes(term) || e.experiment_id === term);
    const s = summaries.data;
    const activity = (e: Experiment) => s?.get(e.experiment_id)?.last_activity ?? e.last_update_time ?? 0;
    const cmp: Record<SortKey, (a: Experiment, b: Experiment) => number> = {
      name: (a, b) => a.name.localeCompare(b.name),
      runs: (a, b) => (s?.get(b.experiment_id)?.run_count ?? 0) - (s?.get(a.experiment_id)?.run_count ?? 0),
      activity: (a, b) => activity(b) - activity(a),
      created: (a, b) => (b.creation_time ?? 0) - (a.creation_time ?? 0),
    };
    return [...list].sort(cmp[sort] ?? cmp.activity);
  }, [experiments.data, summaries.data, search, sort]);

  const totalRuns = useMemo(() => {
    let n = 0;
    for (const v of summaries.data?.values() ?? []) n += v.run_count;
    return n;
  }, [summaries.data]);
  const activeCount = (experiments.data ?? []).filter((e) => e.lifecycle_stage === "active").length;
  const isEmpty = experiments.isSuccess && summaries.isSuccess && totalRuns === 0 && activeCount <= 1;

  return (
    <div className="page experiments-page">
      <div className="page-head">
        <div>
          <h1>Experiments</h1>
          <p className="muted">
            {experiments.isSuccess
              ? `${plural(activeCount, "experiment")} · ${summaries.isSuccess ? plural(totalRuns, "run") : "counting runs…"}`
              : "Loading…"}
          </p>
        </div>
        <CreateExperiment
          onCreated={(id) => {
            invalidate();
            navigate(`/experiments/${id}`);
          }}
        />
      </div>

      <div className="toolbar">
        <input
          className="input search"
          type="search"
          placeholder="Search experiments by name"
          aria-label="Search experiments"
          value={search}
          onChange={(e) => setParam("q", e.target.value || null)}
        />
        <label className="check">
          <input type="checkbox" checked={showDeleted} onChange={(e) => setParam("deleted", e.target.checked ? "1" : null)} />
          Show deleted
        </label>
      </div>

      {experiments.isError && <div className="error-box">Could not load experiments: {errorText(experiments.error)}</div>}

      {isEmpty && !search && <GettingStarted />}

      {experiments.isSuccess && (
        <div className="card table-card">
          <table className="exp-table">
            <thead>
              <tr>
                <SortHeader label="Name" k="name" sort={sort} onSort={(k) => setParam("sort", k)} />
                <SortHeader label="Runs" k="runs" sort={sort} onSort={(k) => setParam("sort", k)} className="num" />
                <SortHeader label="Last activity" k="activity" sort={sort} onSort={(k) => setParam("sort", k)} />
                <SortHeader label="Created" k="created" sort={sort} onSort={(k) => setParam("sort", k)} />
                <th className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <ExperimentRow key={e.experiment_id} experiment={e} summary={summaries.data?.get(e.experiment_id)} onChanged={invalidate} />
              ))}
              {rows.length === 0 && (
                <tr>
                  <td colSpan={5} className="empty-row">
                    {search ? (
                      <>No experiment matches “{search}”.</>
                    ) : showDeleted ? (
                      "No experiments."
                    ) : (
                      "No active experiments."
                    )}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function SortHeader({ label, k, sort, onSort, className }: { label: string; k: SortKey; sort: SortKey; onSort: (k: SortKey) => void; className?: string }) {
  const active = sort === k;
  return (
    <th className={className} aria-sort={active ? (k === "name" ? "ascending" : "descending") : "none"}>
      <button type="button" className="th-button" onClick={() => onSort(k)}>
        {label}
        {active && <span aria-hidden="true"> {k === "name" ? "▲" : "▼"}</span>}
      </button>
    </th>
  );
}

function GettingStarted() {
  const origin = window.location.origin;
  return (
    <div className="card empty-state getting-started" data-testid="getting-started">
      <h2>No runs yet</h2>
      <p>Fill Cairn with an example project in one command:</p>
      <pre>cairn demo</pre>
      <p>or point your training code at this server and log a run:</p>
      <pre>{`export MLFLOW_TRACKING_URI=${origin}

import mlflow
mlflow.set_experiment("my-first-experiment")
with mlflow.start_run():
    mlflow.log_param("lr", 0.01)
    mlflow.log_metric("loss", 0.42)`}</pre>
    </div>
  );
}

function CreateExperiment({ onCreated }: { onCreated: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const create = useMutation({ mutationFn: (n: string) => createExperiment(n), onSuccess: (id) => onCreated(id) });
  if (!open)
    return (
      <button type="button" className="btn primary" onClick={() => setOpen(true)}>
        + New experiment
      </button>
    );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate(name.trim());
  };
  return (
    <form className="create-form" onSubmit={submit} aria-label="New experiment">
      <input
        className="input"
        autoFocus
        placeholder="Experiment name"
        aria-label="New experiment name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
      />
      <button className="btn primary" type="submit" disabled={!name.trim() || create.isPending}>
        Create
      </button>
      <button className="btn" type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {create.isError && <div className="error-box form-error">{errorText(create.error)}</div>}
    </form>
  );
}

function ExperimentRow({
  experiment: e,
  summary,
  onChanged,
}: {
  experiment: Experiment;
  summary?: { run_count: number; running_count: number; last_activity: number | null };
  onChanged: () => void;
}) {
  const [mode, setMode] = useState<"view" | "rename" | "confirm-delete">("view");
  const [name, setName] = useState(e.name);
  const renameRef = useRef<HTMLInputElement>(null);
  const action = useMutation({
    mutationFn: async (kind: "rename" | "delete" | "restore") => {
      if (kind === "rename") await renameExperiment(e.experiment_id, name.trim());
      else if (kind === "delete") await deleteExperiment(e.experiment_id);
      else await restoreExperiment(e.experiment_id);
    },
    onSuccess: () => {
      setMode("view");
      onChanged();
    },
  });
  const deleted = e.lifecycle_stage === "deleted";
  const last = summary?.last_activity ?? e.last_update_time;

  return (
    <tr className={deleted ? "deleted" : undefined} data-testid={`experiment-${e.experiment_id}`}>
      <td className="name-cell">
        {mode === "rename" ? (
          <form
            className="inline-form"
            onSubmit={(ev) => {
              ev.preventDefault();
              if (name.trim() && name.trim() !== e.name) action.mutate("rename");
              else setMode("view");
            }}
          >
            <input
              ref={renameRef}
              className="input"
              autoFocus
              aria-label={`New name for ${e.name}`}
              value={name}
              onChange={(ev) => setName(ev.target.value)}
              onKeyDown={(ev) => {
                if (ev.key === "Escape") {
                  setName(e.name);
                  setMode("view");
                }
              }}
            />
            <button className="btn small primary" type="submit" disabled={action.isPending}>
              Save
            </button>
            <button className="btn small" type="button" onClick={() => setMode("view")}>
              Cancel
            </button>
          </form>
        ) : (
          <>
            <Link to={`/experiments/${e.experiment_id}`} className="exp-name">
              {e.name}
            </Link>
            <span className="faint exp-id">#{e.experiment_id}</span>
            {deleted && <span className="badge deleted-badge">deleted</span>}
          </>
        )}
        {action.isError && <div className="error-box form-error">{errorText(action.error)}</div>}
      </td>
      <td className="num">
        {summary ? formatCount(summary.run_count) : "…"}
        {summary && summary.running_count > 0 && <span className="badge RUNNING running-badge">{summary.running_count} running</span>}
      </td>
      <td title={formatTimestamp(last)}>{relativeTime(last)}</td>
      <td className="muted" title={formatTimestamp(e.creation_time)}>
        {formatTimestamp(e.creation_time).slice(0, 10)}
      </td>
      <td className="actions">
        {deleted ? (
          <button type="button" className="btn small" onClick={() => action.mutate("restore")} disabled={action.isPending}>
            Restore
          </button>
        ) : mode === "confirm-delete" ? (
          <>
            <button type="button" className="btn small danger" onClick={() => action.mutate("delete")} disabled={action.isPending}>
              Confirm delete
            </button>
            <button type="button" className="btn small" onClick={() => setMode("view")}>
              Keep
            </button>
          </>
        ) : mode === "view" ? (
          <>
            <button type="button" className="btn small ghost" onClick={() => setMode("rename")} aria-label={`Rename ${e.name}`}>
              Rename
            </button>
            <button type="button" className="btn small ghost danger" onClick={() => setMode("confirm-delete")} aria-label={`Delete ${e.name}`}>
              Delete
            </button>
          </>
        ) : null}
      </td>
    </tr>
  );
}
