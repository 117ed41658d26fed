import { useEffect, useMemo, useRef, useState } from "react";
import { ATTRIBUTE_COLUMNS, columnId, type ColumnKind } from "./columns";
import type { KnownKeys } from "./autocomplete";

/** The column chooser: show/hide params, metrics, tags and attributes, and pin columns. */
export function ColumnChooser({
  keys,
  columns,
  pinned,
  onChange,
  onReset,
}: {
  keys: KnownKeys;
  columns: string[];
  pinned: string[];
  onChange: (columns: string[], pinned: string[]) => void;
  onReset: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!panel.current?.contains(e.target as Node) && !button.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);

  const shown = new Set(columns);
  const pins = new Set(pinned);
  const term = search.trim().toLowerCase();

  const sections = useMemo(() => {
    const userTags = keys.tags.filter((k) => !k.startsWith("mlflow."));
    const systemTags = keys.tags.filter((k) => k.startsWith("mlflow."));
    const s: { title: string; kind: ColumnKind; items: { key: string; label: string }[] }[] = [
      { title: "Attributes", kind: "attributes", items: ATTRIBUTE_COLUMNS.map((a) => ({ key: a.key, label: a.label })) },
      { title: "Metrics", kind: "metrics", items: keys.metrics.map((k) => ({ key: k, label: k })) },
      { title: "Params", kind: "params", items: keys.params.map((k) => ({ key: k, label: k })) },
      { title: "Tags", kind: "tags", items: userTags.map((k) => ({ key: k, label: k })) },
      { title: "System tags", kind: "tags", items: systemTags.map((k) => ({ key: k, label: k })) },
    ];
    return s.map((sec) => ({ ...sec, items: sec.items.filter((i) => !term || i.label.toLowerCase().includes(term)) }));
  }, [keys, term]);

  const toggle = (id: string) => {
    if (shown.has(id)) onChange(columns.filter((c) => c !== id), pinned.filter((p) => p !== id));
    else onChange([...columns, id], pinned);
  };
  const togglePin = (id: string) => {
    if (pins.has(id)) onChange(columns, pinned.filter((p) => p !== id));
    else onChange(shown.has(id) ? columns : [...columns, id], [...pinned, id]);
  };

  return (
    <div className="chooser">
      <button
        ref={button}
        type="button"
        className="btn"
        aria-expanded={open}
        aria-haspopup="dialog"
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
      >
        Columns ({columns.length})
      </button>
      {open && (
        <div
          className="chooser-panel card"
          ref={panel}
          role="dialog"
          aria-label="Choose columns"
          onKeyDown={(e) => {
            if (e.key === "Escape") {
              setOpen(false);
              button.current?.focus();
            }
          }}
        >
          <div className="chooser-head">
            <input
              className="input"
              autoFocus
              placeholder="Find a key"
              aria-label="Find a column"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
            <button type="button" className="btn small" onClick={onReset}>
              Reset
            </button>
          </div>
          <div className="chooser-body">
            {sections.map(
              (sec) =>
                sec.items.length > 0 && (
                  <fieldset key={sec.title} className="chooser-section">
                    <legend>{sec.title}</legend>
                    {sec.items.map((item) => {
                      const id = columnId(sec.kind, item.key);
                      return (
                        <div className="chooser-item" key={id}>
                          <label>
                            <input type="checkbox" checked={shown.has(id)} onChange={() => toggle(id)} />
                            <span className="mono" title={item.key}>
                              {item.label}
                            </span>
                          </label>
                          <button
                            type="button"
                            className={`pin${pins.has(id) ? " on" : ""}`}
                            aria-pressed={pins.has(id)}
                            aria-label={`${pins.has(id) ? "Unpin" : "Pin"} ${item.label}`}
                            title={pins.has(id) ? "Unpin" : "Pin to the left"}
                            onClick={() => togglePin(id)}
                          >
                            pin
                          </button>
                        </div>
                      );
                    })}
                  </fieldset>
                ),
            )}
            {sections.every((s) => s.items.length === 0) && <p className="muted">No key matches.</p>}
          </div>
        </div>
      )}
    </div>
  );
}
