// The registry's actions in the UI: create, rename and delete a registered model, delete a
// version (each delete asks first), and register a version from a run's logged model or a
// folder of its artifacts. Every failure shows the server's message next to the form.
import { useId, useState } from "react";
import { Link, useNavigate } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ErrorText, focusOnMount } from "../../lib/widgets";
import { createModel, deleteModel, deleteVersion, registerVersion, renameModel, runsUri, searchModels, type RegisterSource } from "./api";
import type { ModelVersion } from "../../api/types";

const modelHref = (name: string) => `/models/${encodeURIComponent(name)}`;

/** "New model" on the models page: a name and a description; opens the new model's page. */
export function CreateModel() {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const navigate = useNavigate();
  const client = useQueryClient();
  // what to create is passed to mutate(): the mutation's own function may be a render behind
  const create = useMutation({
    mutationFn: (m: { name: string; description: string }) => createModel(m.name, m.description),
    onSuccess: async (m) => {
      await client.invalidateQueries({ queryKey: ["models"] });
      navigate(modelHref(m.name));
    },
  });
  if (!open) {
    return (
      <button type="button" className="btn" onClick={() => setOpen(true)} data-testid="create-model-open">
        New model
      </button>
    );
  }
  return (
    <form
      className="card box section"
      aria-label="New registered model"
      data-testid="create-model-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) create.mutate({ name: name.trim(), description: description.trim() });
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") setOpen(false);
      }}
    >
      <div className="form-row">
        <input className="input" ref={focusOnMount} placeholder="model name" value={name} onChange={(e) => setName(e.target.value)} aria-label="New model name" data-testid="create-model-name" />
        <input
          className="input"
          style={{ minWidth: 320 }}
          placeholder="description (optional)"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          aria-label="New model description"
        />
        <button type="submit" className="btn primary" disabled={!name.trim() || create.isPending} data-testid="create-model-submit">
          Create model
        </button>
        <button type="button" className="btn" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      <ErrorText error={create.error} />
    </form>
  );
}

/** Rename and delete on a model's page; renaming opens the page under the new name, deleting
 * (after a confirmation naming what goes with it) returns to the models list. */
export function ModelActions({ name, versionCount }: { name: string; versionCount: number }) {
  const [mode, setMode] = useState<"view" | "rename" | "confirm-delete">("view");
  const [newName, setNewName] = useState(name);
  const navigate = useNavigate();
  const client = useQueryClient();
  const action = useMutation({
    mutationFn: async (a: { kind: "rename"; to: string } | { kind: "delete" }) => {
      if (a.kind === "rename") return (await renameModel(name, a.to)).name;
      await deleteModel(name);
      return null;
    },
    onSuccess: async (renamed) => {
      setMode("view");
      // leave this page first: its queries would ask for a name that no longer exists
      navigate(renamed ? modelHref(renamed) : "/models");
      await client.invalidateQueries({ queryKey: ["models"] });
    },
  });
  return (
    <div className="model-actions" data-testid="model-actions">
      {mode === "rename" && (
        <form
          className="form-row"
          style={{ margin: 0 }}
          onSubmit={(e) => {
            e.preventDefault();
            if (newName.trim() && newName.trim() !== name) action.mutate({ kind: "rename", to: newName.trim() });
            else setMode("view");
          }}
        >
          <input
            className="input"
            ref={focusOnMount}
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") setMode("view");
            }}
            aria-label={`New name for ${name}`}
            data-testid="rename-model-name"
          />
          <button type="submit" className="btn small primary" disabled={action.isPending} data-testid="rename-model-save">
            Save name
          </button>
          <button type="button" className="btn small" onClick={() => setMode("view")}>
            Cancel
          </button>
        </form>
      )}
      {mode === "confirm-delete" && (
        <div className="form-row" style={{ margin: 0 }} role="group" aria-label={`Confirm deleting ${name}`}>
          <span>
            Delete <strong>{name}</strong>
            {versionCount > 0 ? ` and its ${versionCount} version${versionCount === 1 ? "" : "s"}` : ""}? This cannot be undone.
          </span>
          <button type="button" className="btn small danger" ref={focusOnMount} disabled={action.isPending} onClick={() => action.mutate({ kind: "delete" })} data-testid="delete-model-confirm">
            Delete model
          </button>
          <button type="button" className="btn small" onClick={() => setMode("view")}>
            Keep
          </button>
        </div>
      )}
      {mode === "view" && (
        <>
          <button
            type="button"
            className="btn small ghost"
            onClick={() => {
              setNewName(name);
              setMode("rename");
            }}
            data-testid="rename-model"
          >
            Rename
          </button>
          <button type="button" className="btn small ghost danger" onClick={() => setMode("confirm-delete")} data-testid="delete-model">
            Delete
          </button>
        </>
      )}
      <ErrorText error={action.error} />
    </div>
  );
}

/** A version's Delete button; a second button confirms. */
export function DeleteVersion({ name, version, onDone }: { name: string; version: string; onDone: () => unknown }) {
  const [confirming, setConfirming] = useState(false);
  const del = useMutation({
    mutationFn: () => deleteVersion(name, version),
    onSuccess: async () => {
      setConfirming(false);
      await onDone();
    },
  });
  return (
    <span className="form-row" style={{ margin: 0, flexWrap: "nowrap" }} data-testid={`delete-version-${version}`}>
      {confirming ? (
        <>
          <button type="button" className="btn small danger" ref={focusOnMount} disabled={del.isPending} onClick={() => del.mutate()} aria-label={`Confirm deleting version ${version}`}>
            Delete v{version}
          </button>
          <button type="button" className="btn small" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </>
      ) : (
        <button type="button" className="btn small ghost danger" onClick={() => setConfirming(true)} aria-label={`Delete version ${version}`}>
          Delete
        </button>
      )}
      {del.error && <span className="error-box" role="alert">{del.error.message}</span>}
    </span>
  );
}

export interface SourceOption extends RegisterSource {
  label: string;
}

const FOLDER = "__folder__";

/** "Register model" on a run's page: from one of the run's logged models or a folder of its
 * artifacts, as a new version of an existing model or of a new one of the typed name. */
export function RegisterVersion({ runId, options, onDone }: { runId: string; options: SourceOption[]; onDone: (v: ModelVersion) => unknown }) {
  const [open, setOpen] = useState(false);
  const [choice, setChoice] = useState(options[0]?.source ?? FOLDER);
  const [folder, setFolder] = useState("model");
  const [name, setName] = useState("");
  const listId = useId();
  const models = useQuery({ queryKey: ["models", ""], queryFn: () => searchModels(""), enabled: open });
  const from: RegisterSource = choice === FOLDER ? { source: runsUri(runId, folder) } : (options.find((o) => o.source === choice) ?? { source: choice });
  const register = useMutation({
    mutationFn: (r: { name: string; from: RegisterSource }) => registerVersion(r.name, runId, r.from),
    onSuccess: async (v) => {
      await onDone(v);
    },
  });
  if (!open) {
    return (
      <button type="button" className="btn small" onClick={() => setOpen(true)} data-testid="register-open">
        Register model
      </button>
    );
  }
  const existing = models.data?.registered_models ?? [];
  return (
    <form
      className="card box register-form"
      aria-label="Register a model version"
      data-testid="register-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) register.mutate({ name: name.trim(), from });
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") setOpen(false);
      }}
    >
      <div className="form-row">
        <label>
          from{" "}
          <select className="input" value={choice} onChange={(e) => setChoice(e.target.value)} aria-label="Register from" data-testid="register-source">
            {options.map((o) => (
              <option key={o.source} value={o.source}>
                {o.label}
              </option>
            ))}
            <option value={FOLDER}>an artifact folder…</option>
          </select>
        </label>
        {choice === FOLDER && (
          <input className="input" value={folder} onChange={(e) => setFolder(e.target.value)} aria-label="Artifact folder" placeholder="folder, e.g. model" data-testid="register-folder" />
        )}
        <label>
          as{" "}
          <input
            className="input"
            list={listId}
            ref={focusOnMount}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="model name (new or existing)"
            aria-label="Registered model name"
            data-testid="register-name"
          />
        </label>
        <datalist id={listId}>
          {existing.map((m) => (
            <option key={m.name} value={m.name} />
          ))}
        </datalist>
        <button type="submit" className="btn small primary" disabled={!name.trim() || register.isPending} data-testid="register-submit">
          Register
        </button>
        <button type="button" className="btn small" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      <p className="note mono">{from.source}</p>
      <ErrorText error={register.error} />
      {register.data && (
        <p role="status" data-testid="register-done">
          Registered as{" "}
          <Link to={`${modelHref(register.data.name)}/versions/${register.data.version}`}>
            {register.data.name} version {register.data.version}
          </Link>
          .
        </p>
      )}
    </form>
  );
}
