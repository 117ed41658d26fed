// The MLflow trace routes the Traces tab and the trace page read (see docs/tracing.md).
import { apiGet, apiPost, MLFLOW } from "../../api/http";
import type { WireSpan } from "./spans";

export interface WireAssessment {
  assessment_id: string;
  assessment_name: string;
  span_id?: string;
  source?: { source_type?: string; source_id?: string };
  create_time?: string;
  valid?: boolean;
  feedback?: { value?: unknown; error?: { error_code?: string; error_message?: string } };
  expectation?: { value?: unknown; serialized_value?: { serialization_format?: string; value?: string } };
  rationale?: string;
}

export interface TraceInfo {
  trace_id: string;
  trace_location?: { mlflow_experiment?: { experiment_id?: string } };
  request_time: string;
  execution_duration?: string;
  state: string;
  client_request_id?: string;
  request_preview?: string;
  response_preview?: string;
  trace_metadata?: Record<string, string>;
  tags?: Record<string, string>;
  assessments?: WireAssessment[];
}

export interface TracePage {
  traces: TraceInfo[];
  nextPageToken?: string;
}

export async function searchTraces(experimentId: string, filter: string, pageToken: string | undefined, signal?: AbortSignal): Promise<TracePage> {
  const body = {
    locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: experimentId } }],
    filter: filter.trim() || undefined,
    max_results: 100,
    order_by: ["timestamp_ms DESC"],
    page_token: pageToken,
  };
  const r = await apiPost<{ traces?: TraceInfo[]; next_page_token?: string }>(`${MLFLOW}/traces/search`, body, signal);
  return { traces: r.traces ?? [], nextPageToken: r.next_page_token || undefined };
}

export async function getTrace(traceId: string, signal?: AbortSignal): Promise<{ trace_info: TraceInfo; spans: WireSpan[] }> {
  const r = await apiGet<{ trace: { trace_info: TraceInfo; spans?: WireSpan[] } }>(`${MLFLOW}/traces/get`, { trace_id: traceId }, signal);
  return { trace_info: r.trace.trace_info, spans: r.trace.spans ?? [] };
}

/** The filter that finds a run's traces (its `mlflow.sourceRun` metadata or a link). */
export function runFilter(runId: string): string {
  return `trace.run_id = '${runId.replace(/'/g, "")}'`;
}
