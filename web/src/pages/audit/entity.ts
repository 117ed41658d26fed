// Where an event's entity lives in the app, and how it is named in a list.
import type { AuditEvent } from "./api";

const enc = encodeURIComponent;

/** `<model name>/<version>` (a model name may itself hold a slash: the version is after the
 * last one). */
export function splitVersionId(id: string): { name: string; version: string } | null {
  const at = id.lastIndexOf("/");
  if (at <= 0 || at === id.length - 1) return null;
  return { name: id.slice(0, at), version: id.slice(at + 1) };
}

/** The page of an event's entity, or null when the app has none (users, tokens, settings). */
export function entityLink(e: Pick<AuditEvent, "entity_type" | "entity_id" | "experiment_id" | "model_name">): string | null {
  switch (e.entity_type) {
    case "run":
      return `/runs/${enc(e.entity_id)}`;
    case "experiment":
      return `/experiments/${enc(e.entity_id)}`;
    case "registered_model":
      return `/models/${enc(e.entity_id)}`;
    case "model_version": {
      const v = splitVersionId(e.entity_id);
      return v ? `/models/${enc(v.name)}/versions/${enc(v.version)}` : null;
    }
    case "dataset":
      return `/datasets/${enc(e.entity_id)}`;
    case "webhook":
      return "/webhooks";
    case "alert_rule":
    case "alert":
      return "/alerts";
    case "approval_request":
    case "policy":
      return e.model_name ? `/models/${enc(e.model_name)}` : null;
    default:
      if (e.model_name) return `/models/${enc(e.model_name)}`;
      if (e.experiment_id) return `/experiments/${enc(e.experiment_id)}`;
      return null;
  }
}

/** "run 1a2b3c4d", "model_version churn/3", "approval_request 12". */
export function entityLabel(e: Pick<AuditEvent, "entity_type" | "entity_id">): string {
  const id = e.entity_type === "run" && /^[0-9a-f]{32}$/.test(e.entity_id) ? e.entity_id.slice(0, 8) : e.entity_id;
  return `${e.entity_type.replace(/_/g, " ")} ${id}`;
}
