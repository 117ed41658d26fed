// The lineage graph of a dataset, laid out in columns: dataset → runs → model versions →
// aliases and stages. Every node but the dataset links to the page it stands for.
import type { Lineage } from "./api";

export type NodeKind = "dataset" | "run" | "version" | "alias" | "stage";

export interface LineageNode {
  id: string;
  label: string;
  kind: NodeKind;
  column: number;
  row: number;
  /** the app route the node opens, if any */
  link: string | null;
}

export interface LineageEdge {
  source: string;
  target: string;
}

export interface LineageGraph {
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** the tallest column, for sizing the chart */
  rows: number;
}

const KIND_COLUMN: Record<NodeKind, number> = { dataset: 0, run: 1, version: 2, alias: 3, stage: 3 };

export function buildLineage(data: Lineage): LineageGraph {
  const nodes: LineageNode[] = [];
  const edges: LineageEdge[] = [];
  const seen = new Set<string>();
  const perColumn = [0, 0, 0, 0];
  const add = (id: string, label: string, kind: NodeKind, link: string | null) => {
    if (seen.has(id)) return;
    seen.add(id);
    const column = KIND_COLUMN[kind];
    nodes.push({ id, label, kind, column, row: perColumn[column]++, link });
  };
  const edge = (source: string, target: string) => {
    if (!edges.some((e) => e.source === source && e.target === target)) edges.push({ source, target });
  };
  const ds = data.dataset;
  const dsId = `dataset:${ds.dataset_id}`;
  add(dsId, `${ds.name} (${ds.digest.slice(0, 8)})`, "dataset", `/datasets/${ds.dataset_id}`);
  for (const r of data.runs) {
    const id = `run:${r.run_id}`;
    add(id, r.run_name || r.run_id.slice(0, 8), "run", `/runs/${r.run_id}`);
    edge(dsId, id);
  }
  for (const v of data.model_versions) {
    const model = encodeURIComponent(v.name);
    const id = `version:${v.name}/${v.version}`;
    const versionLink = `/models/${model}/versions/${v.version}`;
    add(id, `${v.name} v${v.version}`, "version", versionLink);
    const runId = `run:${v.run_id}`;
    if (!seen.has(runId)) add(runId, v.run_id.slice(0, 8), "run", `/runs/${v.run_id}`);
    edge(runId, id);
    for (const a of v.aliases) {
      const aid = `alias:${v.name}@${a}`;
      add(aid, `${v.name}@${a}`, "alias", versionLink);
      edge(id, aid);
    }
    if (v.current_stage && v.current_stage !== "None") {
      const sid = `stage:${v.name}/${v.current_stage}/${v.version}`;
      add(sid, `${v.name}: ${v.current_stage}`, "stage", `/models/${model}`);
      edge(id, sid);
    }
  }
  return { nodes, edges, rows: Math.max(1, ...perColumn) };
}

/** Node positions: columns spread over the width, each column's nodes centred vertically. */
export function layout(graph: LineageGraph, width: number, height: number): Map<string, [number, number]> {
  const counts = [0, 0, 0, 0];
  for (const n of graph.nodes) counts[n.column]++;
  const out = new Map<string, [number, number]>();
  const colGap = width / 4;
  const rowGap = height / Math.max(graph.rows, 1);
  for (const n of graph.nodes) {
    const top = (height - counts[n.column] * rowGap) / 2;
    out.set(n.id, [colGap * (n.column + 0.5), top + rowGap * (n.row + 0.5)]);
  }
  return out;
}
