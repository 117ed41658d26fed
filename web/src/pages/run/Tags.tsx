// Editable run tags and description (the `mlflow.note.content` tag), through runs/set-tag and
// runs/delete-tag.
import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { deleteRunTag, setRunTag } from "../../api/mlflow";
import type { RunTag } from "../../api/types";

export const NOTE_TAG = "mlflow.note.content";

function useTagMutations(runId: string) {
  const client = useQueryClient();
  const done = () => client.invalidateQueries({ queryKey: ["run", runId] });
  const set = useMutation({
    mutationFn: ({ key, value }: { key: string; value: string }) => setRunTag(runId, key, value),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: (key: string) => deleteRunTag(runId, key),
    onSuccess: done,
  });
  return { set, remove };
}

export function Description({ runId, tags, editable }: { runId: string; tags: RunTag[]; editable: boolean }) {
  const current = tags.find((t) => t.key === NOTE_TAG)?.value ?? "";
  const [draft, setDraft] = useState<string | null>(null);
  const { set } = useTagMutations(runId);
  if (draft !== null) {
    return (
      <div className="description editing">
        <textarea
          className="input description-input"
          aria-label="Description"
          value={draft}
          rows={4}
          autoFocus
          onChange={(e) => setDraft(e.target.value)}
        />
        <div className="row-actions">
          <button
            type="button"
            className="btn primary small"
            disabled={set.isPending}
            onClick={() => set.mutate({ key: NOTE_TAG, value: draft }, { onSuccess: () => setDraft(null) })}
          >
            Save description
          </button>
          <button type="button" className="btn small" onClick={() => setDraft(null)}>
            Cancel
          </button>
          {set.isError && <span className="error-box">{String((set.error as Error).message)}</span>}
        </div>
      </div>
    );
  }
  return (
    <div className="description">
      {current ? <p className="description-text" data-testid="description">{current}</p> : <p className="faint">No description.</p>}
      {editable && (
        <button type="button" className="btn small" onClick={() => setDraft(current)}>
          {current ? "Edit description" : "Add a description"}
        </button>
      )}
    </div>
  );
}

function TagRow({ runId, tag, editable }: { runId: string; tag: RunTag; editable: boolean }) {
  const [draft, setDraft] = useState<string | null>(null);
  const { set, remove } = useTagMutations(runId);
  return (
    <tr>
      <td className="mono">{tag.key}</td>
      <td>
        {draft !== null ? (
          <input className="input tag-value-input" aria-label={`Value of ${tag.key}`} value={draft} autoFocus onChange={(e) => setDraft(e.target.value)} onKeyDown={(e) => {
            if (e.key === "Enter") set.mutate({ key: tag.key, value: draft }, { onSuccess: () => setDraft(null) });
            if (e.key === "Escape") setDraft(null);
          }} />
        ) : (
          <span className="tag-value">{tag.value}</span>
        )}
      </td>
      {editable && (
        <td className="row-actions">
          {draft !== null ? (
            <>
              <button type="button" className="btn small primary" onClick={() => set.mutate({ key: tag.key, value: draft }, { onSuccess: () => setDraft(null) })}>
                Save
              </button>
              <button type="button" className="btn small" onClick={() => setDraft(null)}>
                Cancel
              </button>
            </>
          ) : (
            <>
              <button type="button" className="btn small ghost" aria-label={`Edit tag ${tag.key}`} onClick={() => setDraft(tag.value)}>
                Edit
              </button>
              <button type="button" className="btn small ghost danger" aria-label={`Delete tag ${tag.key}`} disabled={remove.isPending} onClick={() => remove.mutate(tag.key)}>
                Delete
              </button>
            </>
          )}
          {(set.isError || remove.isError) && <span className="error-box">{String(((set.error ?? remove.error) as Error).message)}</span>}
        </td>
      )}
    </tr>
  );
}

export function TagsEditor({ runId, tags, editable }: { runId: string; tags: RunTag[]; editable: boolean }) {
  const user = tags.filter((t) => !t.key.startsWith("mlflow.")).sort((a, b) => a.key.localeCompare(b.key));
  const system = tags.filter((t) => t.key.startsWith("mlflow.") && t.key !== NOTE_TAG).sort((a, b) => a.key.localeCompare(b.key));
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const { set } = useTagMutations(runId);
  return (
    <div className="tags-editor">
      {user.length > 0 ? (
        <table className="kv-table" aria-label="Tags">
          <tbody>
            {user.map((t) => (
              <TagRow key={t.key} runId={runId} tag={t} editable={editable} />
            ))}
          </tbody>
        </table>
      ) : (
        <p className="faint">No tags.</p>
      )}
      {editable && (
        <form
          className="tag-add"
          onSubmit={(e) => {
            e.preventDefault();
            if (!key.trim()) return;
            set.mutate({ key: key.trim(), value }, { onSuccess: () => { setKey(""); setValue(""); } });
          }}
        >
          <input className="input" placeholder="tag name" aria-label="New tag name" value={key} onChange={(e) => setKey(e.target.value)} />
          <input className="input" placeholder="value" aria-label="New tag value" value={value} onChange={(e) => setValue(e.target.value)} />
          <button type="submit" className="btn small" disabled={!key.trim() || set.isPending}>
            Add tag
          </button>
          {set.isError && <span className="error-box">{String((set.error as Error).message)}</span>}
        </form>
      )}
      {system.length > 0 && (
        <details className="system-tags">
          <summary className="faint">{system.length} system tags</summary>
          <table className="kv-table">
            <tbody>
              {system.map((t) => (
                <tr key={t.key}>
                  <td className="mono">{t.key}</td>
                  <td className="tag-value">{t.value.length > 300 ? `${t.value.slice(0, 300)}…` : t.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
