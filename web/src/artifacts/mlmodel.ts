// An MLmodel file (MLflow's model description, YAML) summarised: flavours, signature, origin.
import { parse } from "yaml";

export interface SignatureColumn {
  name: string | null;
  type: string;
  optional: boolean;
}

export interface ModelSummary {
  flavors: { name: string; details: [string, string][] }[];
  inputs: SignatureColumn[] | null;
  outputs: SignatureColumn[] | null;
  params: SignatureColumn[] | null;
  runId: string | null;
  modelId: string | null;
  modelUuid: string | null;
  artifactPath: string | null;
  created: string | null;
  mlflowVersion: string | null;
}

function str(v: unknown): string | null {
  return v === undefined || v === null ? null : String(v);
}

function describeType(col: Record<string, unknown>): string {
  const spec = col["tensor-spec"] as { dtype?: unknown; shape?: unknown } | undefined;
  if (col.type === "tensor" && spec) {
    const shape = Array.isArray(spec.shape) ? `(${spec.shape.join(", ")})` : "";
    return `tensor ${String(spec.dtype ?? "")}${shape}`.trim();
  }
  if (col.type === "array" && col.items && typeof col.items === "object") {
    return `array<${describeType(col.items as Record<string, unknown>)}>`;
  }
  return String(col.type ?? "unknown");
}

/** A signature part: MLflow stores each as a JSON string inside the YAML. */
export function parseSignaturePart(value: unknown): SignatureColumn[] | null {
  if (value === undefined || value === null || value === "") return null;
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return null;
    }
  }
  if (!Array.isArray(parsed)) return null;
  return parsed
    .filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null)
    .map((c) => ({ name: str(c.name), type: describeType(c), optional: c.required === false || c.optional === true }));
}

function flatDetails(obj: unknown, prefix = ""): [string, string][] {
  if (obj === null || typeof obj !== "object") return prefix ? [[prefix, String(obj)]] : [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) out.push(...flatDetails(v, key));
    else out.push([key, Array.isArray(v) ? JSON.stringify(v) : String(v)]);
  }
  return out;
}

/** Throws on text that is not a YAML mapping. */
export function parseMLmodel(text: string): ModelSummary {
  const doc = parse(text) as unknown;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error("MLmodel is not a YAML mapping");
  const m = doc as Record<string, unknown>;
  const flavors = m.flavors && typeof m.flavors === "object" ? (m.flavors as Record<string, unknown>) : {};
  const sig = (m.signature && typeof m.signature === "object" ? m.signature : {}) as Record<string, unknown>;
  return {
    flavors: Object.entries(flavors).map(([name, details]) => ({ name, details: flatDetails(details) })),
    inputs: parseSignaturePart(sig.inputs),
    outputs: parseSignaturePart(sig.outputs),
    params: parseSignaturePart(sig.params),
    runId: str(m.run_id),
    modelId: str(m.model_id),
    modelUuid: str(m.model_uuid),
    artifactPath: str(m.artifact_path),
    created: str(m.utc_time_created),
    mlflowVersion: str(m.mlflow_version),
  };
}
