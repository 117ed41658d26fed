import { memo, useCallback, useEffect, useMemo, useRef, useState, type CSSProperties, type KeyboardEvent, type MouseEvent } from "react";
import { useNavigate } from "react-router";
import { useVirtualizer } from "@tanstack/react-virtual";
import { formatDuration, formatTimestamp, runDuration } from "../../lib/format";
import { whenIdle } from "../../lib/idle";
import { layoutColumns, parseColumnId, searchKey, type ColumnId, type ColumnLayout } from "./columns";
import type { Registered } from "./api";
import { PencilIcon, PinIcon } from "./icons";
import { datasetNames, displayMetric, sourceName, type RunRow } from "./runRow";
import type { TreeRow } from "./tree";
import type { Order } from "./urlState";

const ROW_HEIGHT = 32;
const OVERSCAN = 5; // rows drawn beyond each edge of the scroller

type Row = TreeRow<RunRow>;

export interface RunsTableProps {
  rows: Row[];
  columns: string[];
  pinned: string[];
  order: Order | null;
  selected: ReadonlySet<string>;
  onSort: (column: string) => void;
  onToggleSelect: (runId: string) => void;
  onToggleAll: () => void;
  onToggleExpand: (runId: string) => void;
  onNearEnd: () => void;
  loadingMore: boolean;
  hasMore: boolean;
  busy: boolean;
  /** a run's colour (shared with the chart view) */
  colorOf: (runId: string) => string;
  pinnedRuns: ReadonlySet<string>;
  /** run id → registry versions made from it (the "Registered as" column) */
  registered?: Map<string, Registered[]>;
  /** the run whose name is being edited */
  editing: string | null;
  onRunAction: (action: "rename" | "pin", runId: string) => void;
  onRename: (runId: string, name: string | null) => void;
}

/** A body cell's text and tooltip (plain values: a screenful is hundreds of cells, so each
 * is a bare table cell, without a component or an inner element). */
function cellText(row: RunRow, col: ColumnId): { text: string; title?: string } {
  const info = row.run.info;
  switch (col.kind) {
    case "params": {
      const v = row.params.get(col.key) ?? "";
      return { text: v, title: v };
    }
    case "tags": {
      const v = row.tags.get(col.key) ?? "";
      return { text: v, title: v };
    }
    case "metrics":
      return { text: displayMetric(row.metrics.get(col.key)) };
    case "attributes":
      switch (col.key) {
        case "status":
          return { text: info.status.toLowerCase() };
        case "start_time":
          return { text: formatTimestamp(info.start_time) };
        case "duration":
          return { text: formatDuration(runDuration(info.start_time, info.end_time, info.status)) };
        case "user_id":
          return { text: info.user_id ?? "" };
        case "source":
          return { text: sourceName(row), title: row.tags.get("mlflow.source.name") };
        case "datasets": {
          const names = datasetNames(row).join(", ");
          return { text: names, title: names };
        }
      }
  }
  return { text: "" };
}

/** What a body cell needs of its column, worked out once per render of the table. */
interface CellColumn {
  id: string;
  col: ColumnId | null;
  style: CSSProperties | undefined;
  className: string;
}

interface RowProps {
  row: Row;
  index: number;
  cells: CellColumn[];
  selected: boolean;
  active: boolean;
  onToggleSelect: (runId: string) => void;
  onToggleExpand: (runId: string) => void;
  onRowKey: (e: KeyboardEvent<HTMLTableRowElement>, index: number, row: Row) => void;
  onRowFocus: (index: number) => void;
  color: string;
  pinnedRun: boolean;
  editing: boolean;
  registered: Registered[] | undefined;
  onRename: (runId: string, name: string | null) => void;
}

/** The run name's inline editor: Enter or leaving the field saves, Escape cancels. */
function RenameInput({ runId, name, onRename }: { runId: string; name: string; onRename: (runId: string, name: string | null) => void }) {
  const done = useRef(false);
  const finish = (value: string | null) => {
    if (done.current) return;
    done.current = true;
    onRename(runId, value === null || value.trim() === "" || value.trim() === name ? null : value.trim());
  };
  return (
    <input
      className="input rename-input"
      aria-label={`New name for ${name}`}
      defaultValue={name}
      maxLength={250}
      autoFocus
      onFocus={(e) => e.currentTarget.select()}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === "Enter") finish(e.currentTarget.value);
        else if (e.key === "Escape") finish(null);
      }}
      onBlur={(e) => finish(e.currentTarget.value)}
      onClick={(e) => e.stopPropagation()}
    />
  );
}

/** Equal when the row would draw the same: the tree is rebuilt into new row objects whenever
 * a page arrives or a parent opens, so rows compare by what they hold. */
function sameRow(a: RowProps, b: RowProps): boolean {
  for (const k of Object.keys(a) as (keyof RowProps)[]) {
    if (k === "row") {
      const x = a.row;
      const y = b.row;
      if (x.item !== y.item || x.depth !== y.depth || x.childCount !== y.childCount || x.expanded !== y.expanded) return false;
    } else if (a[k] !== b[k]) return false;
  }
  return true;
}

/** One run's row. Memoised: a table render (scrolling, a selection, the next page arriving)
 * redraws only the rows whose run, columns, selection or focus changed. */
const RunRowView = memo(function RunRowView({ row, index, cells, selected, active, onToggleSelect, onToggleExpand, onRowKey, onRowFocus, color, pinnedRun, editing, registered, onRename }: RowProps) {
  const run = row.item;
  return (
    <tr
      data-index={index}
      data-run-id={run.id}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      aria-level={row.depth + 1}
      aria-expanded={row.childCount > 0 ? row.expanded : undefined}
      tabIndex={active ? 0 : -1}
      className={`run-row${selected ? " selected" : ""}${run.deleted ? " deleted" : ""}${pinnedRun ? " pinned-run" : ""}`}
      onFocus={() => onRowFocus(index)}
      onKeyDown={(e) => onRowKey(e, index, row)}
    >
      {cells.map(({ id, col, style, className }) => {
        if (id === "select")
          return (
            <td key={id} style={style} className={className}>
              <input type="checkbox" tabIndex={-1} aria-label={`Select ${run.name}`} checked={selected} onChange={() => onToggleSelect(run.id)} />
            </td>
          );
        if (id === "name")
          return (
            <td key={id} style={style} className={className}>
              {row.depth > 0 && <span className="tree-indent" style={{ width: row.depth * 18 }} />}
              {row.childCount > 0 ? (
                <button
                  type="button"
                  tabIndex={-1}
                  className="expander"
                  aria-label={`${row.expanded ? "Collapse" : "Expand"} ${run.name} (${row.childCount} child runs)`}
                  onClick={() => onToggleExpand(run.id)}
                >
                  {row.expanded ? "▾" : "▸"}
                  <span className="child-count">{row.childCount}</span>
                </button>
              ) : (
                <span className="expander-space" />
              )}
              <span className="run-dot" style={{ background: color }} aria-hidden="true" />
              {editing ? (
                <RenameInput runId={run.id} name={run.name} onRename={onRename} />
              ) : (
                /* a plain link: the table's click handler routes it inside the app */
                <a href={`/runs/${run.id}`} tabIndex={-1} className="run-link" title={run.name}>
                  {run.name}
                </a>
              )}
              {run.deleted && <span className="badge deleted-badge">deleted</span>}
              {!editing && (
                <span className="run-row-actions">
                  <button type="button" tabIndex={-1} className={`row-action${pinnedRun ? " on" : ""}`} data-action="pin" aria-pressed={pinnedRun} aria-label={`${pinnedRun ? "Unpin" : "Pin"} ${run.name}`} title={pinnedRun ? "Unpin" : "Pin to the top"}>
                    <PinIcon filled={pinnedRun} />
                  </button>
                  <button type="button" tabIndex={-1} className="row-action" data-action="rename" aria-label={`Rename ${run.name}`} title="Rename (F2)">
                    <PencilIcon />
                  </button>
                </span>
              )}
            </td>
          );
        if (!col) return <td key={id} style={style} className={className} />;
        if (col.kind === "attributes" && col.key === "registered")
          return (
            <td key={id} style={style} className={className} title={registered?.map((v) => `${v.name} v${v.version}`).join(", ")}>
              {registered?.map((v, i) => (
                <span key={`${v.name}/${v.version}`}>
                  {i > 0 && ", "}
                  <a href={`/models/${encodeURIComponent(v.name)}/versions/${v.version}`} tabIndex={-1} className="run-link registered-link">
                    {v.name} v{v.version}
                  </a>
                </span>
              ))}
            </td>
          );
        const { text, title } = cellText(run, col);
        return (
          <td key={id} style={style} className={className} title={title || undefined}>
            {col.kind === "attributes" && col.key === "status" ? <span className={`badge ${run.run.info.status}`}>{text}</span> : text}
          </td>
        );
      })}
    </tr>
  );
}, sameRow);

export function RunsTable(props: RunsTableProps) {
  const { rows, columns, pinned, order, selected } = props;
  const navigate = useNavigate();
  const scroller = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);

  // the same columns give the same layout (and so the same cells: the rows need not redraw),
  // whatever new arrays the page made for them
  const layoutKey = `${columns.join(",")}#${pinned.join(",")}`;
  const layout = useMemo(() => layoutColumns(columns, pinned), [layoutKey]);
  const headers = layout.columns;
  const totalWidth = layout.width;

  // the first render draws only the rows on screen; rows just past the edges follow a moment
  // later, when the browser is idle, so a scroll finds them drawn (a scroll before that draws
  // what it reveals, as always)
  const [overscan, setOverscan] = useState(0);
  useEffect(() => whenIdle(() => setOverscan(OVERSCAN), 300), []);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan,
    // rows on the very first render, before the scroller has been measured: the window less
    // the page's head (about 190px on a laptop screen), so the first render draws the rows
    // that will show and the measurement seldom changes the range
    initialRect: { width: window.innerWidth, height: Math.max(4 * ROW_HEIGHT, window.innerHeight - 210) },
  });
  const items = virtualizer.getVirtualItems();
  const last = items.length ? items[items.length - 1].index : 0;

  const { onNearEnd, hasMore, loadingMore } = props;
  useEffect(() => {
    if (hasMore && !loadingMore && last >= rows.length - 10) onNearEnd();
  }, [last, rows.length, hasMore, loadingMore, onNearEnd]);

  useEffect(() => {
    if (active >= rows.length && rows.length) setActive(rows.length - 1);
  }, [rows.length, active]);

  const stickyStyle = (h: ColumnLayout): CSSProperties | undefined => (h.pinned ? { position: "sticky", left: h.left, zIndex: 1 } : undefined);

  const focusRow = (index: number) => {
    const i = Math.max(0, Math.min(rows.length - 1, index));
    setActive(i);
    virtualizer.scrollToIndex(i, { align: "auto" });
    requestAnimationFrame(() => {
      scroller.current?.querySelector<HTMLElement>(`[data-index="${i}"]`)?.focus();
    });
  };

  const onKey = (e: KeyboardEvent<HTMLTableRowElement>, index: number, row: Row) => {
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 320) / ROW_HEIGHT) - 1);
    switch (e.key) {
      case "ArrowDown":
        e.preventDefault();
        focusRow(index + 1);
        break;
      case "ArrowUp":
        e.preventDefault();
        focusRow(index - 1);
        break;
      case "PageDown":
        e.preventDefault();
        focusRow(index + page);
        break;
      case "PageUp":
        e.preventDefault();
        focusRow(index - page);
        break;
      case "Home":
        e.preventDefault();
        focusRow(0);
        break;
      case "End":
        e.preventDefault();
        focusRow(rows.length - 1);
        break;
      case "Enter":
        e.preventDefault();
        navigate(`/runs/${row.item.id}`);
        break;
      case "F2":
        e.preventDefault();
        props.onRunAction("rename", row.item.id);
        break;
      case " ":
        e.preventDefault();
        props.onToggleSelect(row.item.id);
        break;
      case "ArrowRight":
        if (row.childCount > 0 && !row.expanded) {
          e.preventDefault();
          props.onToggleExpand(row.item.id);
        }
        break;
      case "ArrowLeft":
        if (row.expanded) {
          e.preventDefault();
          props.onToggleExpand(row.item.id);
        }
        break;
    }
  };

  // the latest key handler behind a stable function, so rows need not redraw for a new one
  const keyHandler = useRef(onKey);
  keyHandler.current = onKey;
  const onRowKey = useCallback((e: KeyboardEvent<HTMLTableRowElement>, index: number, row: Row) => keyHandler.current(e, index, row), []);

  const cells = useMemo<CellColumn[]>(
    () =>
      headers.map((h) => {
        const id = h.id;
        const pinnedClass = h.pinned ? "pinned" : "";
        const col = parseColumnId(id);
        const className =
          id === "select"
            ? `select-col ${pinnedClass}`
            : id === "name"
              ? `name-col ${pinnedClass}`
              : `${pinnedClass} ${pinned.includes(id) ? "pin-edge" : ""} ${col?.kind === "metrics" ? "num num-cell" : id === "attributes.duration" ? "num-cell" : ""}`;
        return { id, col, style: stickyStyle(h), className };
      }),
    // the layout changes exactly when the columns or the pins do (pinned is read for the
    // pin-edge class; a new array with the same pins must not redraw every row)
    [headers],
  );

  // a run's name is a plain link; a plain left click on it opens the run inside the app
  // (a click with a modifier, or a middle click, stays the browser's: a new tab or window)
  const onTableClick = (e: MouseEvent<HTMLTableElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.altKey || e.ctrlKey || e.shiftKey) return;
    const action = (e.target as Element).closest<HTMLElement>("[data-action]");
    const runId = action?.closest<HTMLElement>("[data-run-id]")?.dataset.runId;
    if (action && runId) {
      e.preventDefault();
      props.onRunAction(action.dataset.action as "rename" | "pin", runId);
      return;
    }
    const link = (e.target as Element).closest("a.run-link");
    const href = link?.getAttribute("href");
    if (!href) return;
    e.preventDefault();
    navigate(href);
  };

  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.item.id));
  const someSelected = selected.size > 0;
  const padTop = items.length ? items[0].start : 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1].end : 0;

  return (
    <div className={`runs-scroller card${props.busy ? " busy" : ""}`} ref={scroller} data-testid="runs-scroller" aria-busy={props.busy}>
      <table
        className="runs-table"
        style={{ width: totalWidth }}
        aria-label="Runs"
        aria-rowcount={rows.length + 1}
        aria-multiselectable="true"
        role="grid"
        onClick={onTableClick}
      >
        <colgroup>
          {headers.map((h) => (
            <col key={h.id} style={{ width: h.width }} />
          ))}
        </colgroup>
        <thead>
          <tr role="row" aria-rowindex={1}>
            {headers.map((h) => {
              const id = h.id;
              const style = stickyStyle(h);
              if (id === "select")
                return (
                  <th key={id} style={style} className="select-col pinned">
                    <input
                      type="checkbox"
                      aria-label={allSelected ? "Clear the selection" : "Select all loaded runs"}
                      checked={allSelected}
                      ref={(el) => {
                        if (el) el.indeterminate = someSelected && !allSelected;
                      }}
                      onChange={props.onToggleAll}
                    />
                  </th>
                );
              const key = id === "name" ? "attributes.run_name" : searchKey(id);
              const sorted = key && order && order.key === key ? (order.desc ? "descending" : "ascending") : "none";
              const col = parseColumnId(id);
              return (
                <th
                  key={id}
                  style={style}
                  className={`${h.pinned ? "pinned" : ""} ${col?.kind === "metrics" ? "num" : ""} ${pinned.includes(id) ? "pin-edge" : ""}`}
                  aria-sort={sorted}
                  title={id === "name" ? "Run name" : id}
                >
                  {key ? (
                    <button type="button" className="th-button" onClick={() => props.onSort(id === "name" ? "attributes.run_name" : id)}>
                      {col && col.kind !== "attributes" && <span className={`kind ${col.kind}`}>{col.kind[0]}</span>}
                      <span className="th-label">{h.label}</span>
                      {sorted !== "none" && <span aria-hidden="true">{sorted === "descending" ? " ▼" : " ▲"}</span>}
                    </button>
                  ) : (
                    <span className="th-label">{h.label}</span>
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {padTop > 0 && (
            <tr aria-hidden="true" className="spacer">
              <td style={{ height: padTop }} colSpan={headers.length} />
            </tr>
          )}
          {items.map((vi) => {
            const row = rows[vi.index];
            return (
              <RunRowView
                key={row.item.id}
                row={row}
                index={vi.index}
                cells={cells}
                selected={selected.has(row.item.id)}
                active={vi.index === active}
                onToggleSelect={props.onToggleSelect}
                onToggleExpand={props.onToggleExpand}
                onRowKey={onRowKey}
                onRowFocus={setActive}
                color={props.colorOf(row.item.id)}
                pinnedRun={props.pinnedRuns.has(row.item.id)}
                editing={props.editing === row.item.id}
                registered={props.registered?.get(row.item.id)}
                onRename={props.onRename}
              />
            );
          })}
          {padBottom > 0 && (
            <tr aria-hidden="true" className="spacer">
              <td style={{ height: padBottom }} colSpan={headers.length} />
            </tr>
          )}
        </tbody>
      </table>
      {props.loadingMore && <div className="loading-more">Loading more runs…</div>}
    </div>
  );
}
