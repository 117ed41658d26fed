import { useEffect, useId, useRef, useState } from "react";
import { applySuggestion, complete, type Completion, type KnownKeys } from "./autocomplete";

/** The filter input: speaks the search language, completes keys, applies on Enter. */
export function FilterBox({
  value,
  keys,
  error,
  onApply,
}: {
  value: string;
  keys: KnownKeys;
  error: string | null;
  onApply: (filter: string) => void;
}) {
  const [text, setText] = useState(value);
  const [completion, setCompletion] = useState<Completion | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();
  const errorId = useId();

  useEffect(() => setText(value), [value]);

  const refresh = (t: string, cursor: number) => {
    const c = complete(t, cursor, keys);
    setCompletion(c);
    setActive(0);
  };

  const accept = (index: number) => {
    if (!completion) return;
    const s = completion.suggestions[index];
    const next = applySuggestion(text, completion, s);
    setText(next.text);
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(next.cursor, next.cursor);
      if (s.complete) setCompletion(null);
      else refresh(next.text, next.cursor);
    });
  };

  const open = completion !== null && completion.suggestions.length > 0;

  return (
    <div className="filter-box">
      <div className="filter-row">
        <input
          ref={input}
          className={`input mono filter-input${error ? " invalid" : ""}`}
          placeholder="Filter runs: metrics.loss < 0.2 AND params.model = 'rf'"
          aria-label="Filter runs"
          role="combobox"
          aria-expanded={open}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-activedescendant={open ? `${listId}-${active}` : undefined}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          spellCheck={false}
          autoComplete="off"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            refresh(e.target.value, e.target.selectionStart ?? e.target.value.length);
          }}
          onBlur={() => setTimeout(() => setCompletion(null), 150)}
          onKeyDown={(e) => {
            if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
              e.preventDefault();
              const n = completion!.suggestions.length;
              setActive((a) => (a + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
            } else if (open && (e.key === "Tab" || e.key === "Enter") && !e.shiftKey) {
              e.preventDefault();
              accept(active);
            } else if (e.key === "Escape") {
              if (open) setCompletion(null);
              else setText(value);
            } else if (e.key === "Enter") {
              e.preventDefault();
              setCompletion(null);
              onApply(text.trim());
            }
          }}
        />
        <button type="button" className="btn" onClick={() => onApply(text.trim())}>
          Apply
        </button>
        {value && (
          <button
            type="button"
            className="btn ghost"
            onClick={() => {
              setText("");
              onApply("");
            }}
          >
            Clear
          </button>
        )}
      </div>
      {open && (
        <ul className="suggestions" id={listId} role="listbox" aria-label="Key suggestions">
          {completion!.suggestions.map((s, i) => (
            <li
              key={s.value}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(i);
              }}
            >
              <span className="mono">{s.label}</span>
              <span className="faint">{s.detail}</span>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <div className="error-box filter-error" role="alert" id={errorId} data-testid="filter-error">
          {error}
        </div>
      )}
    </div>
  );
}
