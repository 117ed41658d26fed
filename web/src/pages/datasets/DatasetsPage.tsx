// /datasets: every dataset runs logged, across experiments (name, digest, source, rows, use).
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import "../../viz/pages.css";
import { ListBody } from "../../lib/widgets";
import { plural } from "../../lib/format";
import { datasetsSummary, experimentNames, listDatasets, sourceText } from "./api";

export function DatasetsPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [text, setText] = useState(q);
  const list = useQuery({ queryKey: ["datasets", q], queryFn: () => listDatasets(q) });
  const experiments = useQuery({ queryKey: ["experiment-names"], queryFn: experimentNames, staleTime: 60_000 });
  const items = list.data?.datasets ?? [];
  return (
    <div className="page" data-testid="datasets-page">
      <div className="page-head">
        <h1>Datasets</h1>
        <span className="muted" data-testid="datasets-count">{list.data ? datasetsSummary(items.map((d) => d.run_count), !!list.data.next_page_token) : ""}</span>
      </div>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          const next = new URLSearchParams(params);
          if (text.trim()) next.set("q", text.trim());
          else next.delete("q");
          setParams(next);
        }}
      >
        <input className="input" placeholder="Exact dataset name" value={text} onChange={(e) => setText(e.target.value)} aria-label="Dataset name" />
        <button type="submit" className="btn">
          Filter
        </button>
      </form>
      <ListBody query={list} count={items.length} empty={<>No datasets logged{q ? ` named “${q}”` : ""}. Runs log them with mlflow.log_input or cairn.log_dataset.</>}>
        <div className="scroll-x">
          <table className="data-table" data-testid="datasets-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Digest</th>
                <th>Source</th>
                <th style={{ textAlign: "right" }}>Rows</th>
                <th>Used by</th>
                <th>Experiment</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.dataset_id} data-testid="dataset-row">
                  <td>
                    <Link to={`/datasets/${d.dataset_id}`}>{d.name}</Link>
                  </td>
                  <td className="mono">{d.digest.slice(0, 12)}</td>
                  <td className="mono" title={sourceText(d.source)} style={{ maxWidth: 320, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
                    <span className="muted">{d.source_type}</span> {sourceText(d.source)}
                  </td>
                  <td style={{ textAlign: "right" }}>{d.num_rows?.toLocaleString() ?? "—"}</td>
                  <td>{plural(d.run_count, "run")}</td>
                  <td>
                    <Link to={`/experiments/${d.experiment_id}`}>{experiments.data?.get(d.experiment_id) ?? `experiment ${d.experiment_id}`}</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </ListBody>
    </div>
  );
}
