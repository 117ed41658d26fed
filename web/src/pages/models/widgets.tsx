// Small widgets of the model and version pages.
import { useState, type ReactNode } from "react";
import { useMutation } from "@tanstack/react-query";
import { ErrorText } from "../../lib/widgets";

export function DescriptionEditor({ value, onSave, testId }: { value: string; onSave: (v: string) => Promise<unknown>; testId: string }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(value);
  const save = useMutation({ mutationFn: onSave, onSuccess: () => setEditing(false) });
  if (!editing) {
    return (
      <div className="form-row" data-testid={testId}>
        <span className={value ? undefined : "muted"} data-testid={`${testId}-text`} style={{ whiteSpace: "pre-wrap" }}>
          {value || "No description"}
        </span>
        <button
          type="button"
          className="btn small ghost"
          onClick={() => {
            setDraft(value);
            setEditing(true);
          }}
        >
          Edit description
        </button>
      </div>
    );
  }
  return (
    <div data-testid={testId}>
      <textarea className="input" rows={3} style={{ width: "100%", maxWidth: 640 }} value={draft} onChange={(e) => setDraft(e.target.value)} aria-label="Description" />
      <div className="form-row">
        <button type="button" className="btn primary small" disabled={save.isPending} onClick={() => save.mutate(draft)}>
          Save
        </button>
        <button type="button" className="btn small" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
      <ErrorText error={save.error} />
    </div>
  );
}

export function TagEditor({
  tags,
  onSet,
  onDelete,
  testId,
}: {
  tags: Record<string, string>;
  onSet: (key: string, value: string) => Promise<unknown>;
  onDelete: (key: string) => Promise<unknown>;
  testId: string;
}) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const set = useMutation({
    mutationFn: () => onSet(key.trim(), value),
    onSuccess: () => {
      setKey("");
      setValue("");
    },
  });
  const del = useMutation({ mutationFn: onDelete });
  const entries = Object.entries(tags).filter(([k]) => !k.startsWith("mlflow."));
  return (
    <div data-testid={testId}>
      <div className="chips">
        {entries.length === 0 && <span className="muted">No tags</span>}
        {entries.map(([k, v]) => (
          <RemovableChip key={k} className="tag" testId="tag" removeLabel={`Remove tag ${k}`} onRemove={() => del.mutate(k)}>
            {k}={v}
          </RemovableChip>
        ))}
      </div>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (key.trim()) set.mutate();
        }}
      >
        <input className="input" placeholder="tag key" value={key} onChange={(e) => setKey(e.target.value)} aria-label="Tag key" />
        <input className="input" placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} aria-label="Tag value" />
        <button type="submit" className="btn small" disabled={!key.trim() || set.isPending}>
          Add tag
        </button>
      </form>
      <ErrorText error={set.error ?? del.error} />
    </div>
  );
}

/** A chip (a tag, an alias) with a × button that removes it. */
export function RemovableChip({
  className,
  testId,
  removeLabel,
  onRemove,
  children,
}: {
  className: string;
  testId: string;
  removeLabel: string;
  onRemove: () => void;
  children: ReactNode;
}) {
  return (
    <span className={className} data-testid={testId}>
      {children}{" "}
      <button type="button" className="btn small ghost" aria-label={removeLabel} onClick={onRemove} style={{ padding: "0 4px" }}>
        ×
      </button>
    </span>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn small"
      aria-label={`Copy ${label}`}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // no clipboard permission (http, headless): select-and-copy by hand still works
        }
        setDone(true);
        window.setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}

export function StageBadge({ stage }: { stage: string }) {
  return <span className={`stage stage-${stage}`}>{stage}</span>;
}
