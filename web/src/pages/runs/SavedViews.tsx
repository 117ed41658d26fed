// The runs table's saved views: a menu of the user's named views of this experiment (kept on
// the server per user, /api/v1/views), "Save view" to name the current one, and delete.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { deleteView, listViews, putView } from "./api";
import { saveView, viewQuery, type SavedView } from "./savedViews";

export interface SavedViewsProps {
  experimentId: string;
  current: string | null;
  params: URLSearchParams;
  onOpen: (view: SavedView) => void;
  onSaved: (name: string) => void;
  /** asked for only once the first rows are on screen (never competes with them) */
  ready: boolean;
}

export function SavedViews({ experimentId, current, params, onOpen, onSaved, ready }: SavedViewsProps) {
  const queryClient = useQueryClient();
  const key = ["saved-views", experimentId];
  const views = useQuery({ queryKey: key, queryFn: ({ signal }) => listViews(experimentId, signal), staleTime: 60_000, enabled: ready });
  const list = views.data ?? [];
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const failed = (e: unknown) => setError(e instanceof ApiError ? e.message : String(e));
  const save = useMutation({
    mutationFn: (view: SavedView) => putView(experimentId, view),
    onSuccess: (_r, view) => {
      setNaming(false);
      setError(null);
      onSaved(view.name);
    },
    onError: failed,
    onSettled: () => void queryClient.invalidateQueries({ queryKey: key }),
  });
  const remove = useMutation({
    mutationFn: (n: string) => deleteView(experimentId, n),
    onError: failed,
    onSettled: () => void queryClient.invalidateQueries({ queryKey: key }),
  });
  const submit = () => {
    // the same checks as the server's, said at once
    const checked = saveView(list, { name, query: viewQuery(params) });
    if (typeof checked === "string") return setError(checked);
    save.mutate({ name: name.trim(), query: viewQuery(params) });
  };
  const known = !!current && list.some((v) => v.name === current);
  return (
    <div className="saved-views" role="group" aria-label="Saved views">
      <select
        className="input"
        aria-label="Saved view"
        value={known ? current! : ""}
        onChange={(e) => {
          const v = list.find((x) => x.name === e.target.value);
          if (v) onOpen(v);
        }}
      >
        <option value="">{views.isPending ? "Saved views…" : list.length ? "Saved views…" : "No saved views"}</option>
        {list.map((v) => (
          <option key={v.name} value={v.name}>
            {v.name}
          </option>
        ))}
      </select>
      {naming ? (
        <form
          className="save-view-form"
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <input className="input" autoFocus aria-label="View name" placeholder="View name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
          <button type="submit" className="btn primary" disabled={save.isPending}>
            Save
          </button>
          <button
            type="button"
            className="btn"
            onClick={() => {
              setNaming(false);
              setError(null);
            }}
          >
            Cancel
          </button>
        </form>
      ) : (
        <button
          type="button"
          className="btn"
          onClick={() => {
            setName(current ?? "");
            setNaming(true);
          }}
        >
          Save view
        </button>
      )}
      {known && !naming && (
        <button type="button" className="btn ghost" title={`Delete the saved view ${current}`} disabled={remove.isPending} onClick={() => remove.mutate(current!)}>
          Delete view
        </button>
      )}
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
