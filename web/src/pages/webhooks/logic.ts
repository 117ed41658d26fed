// The Webhooks page's pure parts: the event checkboxes grouped by entity, the create form's
// checks, and how a delivery's outcome reads.
import type { Delivery, EventPair, NewWebhook } from "./api";

export const eventName = (e: EventPair) => `${e.entity}.${e.action}`;

export interface EventGroup {
  entity: string;
  events: string[];
}

/** The events grouped by entity, in the server's order (MLflow's first, then Cairn's). */
export function groupEvents(pairs: EventPair[]): EventGroup[] {
  const groups: EventGroup[] = [];
  for (const pair of pairs) {
    let group = groups.find((g) => g.entity === pair.entity);
    if (!group) {
      group = { entity: pair.entity, events: [] };
      groups.push(group);
    }
    group.events.push(eventName(pair));
  }
  return groups;
}

export interface Draft {
  name: string;
  url: string;
  description: string;
  secret: string;
  events: string[];
  scopeKind: "global" | "experiment" | "model";
  scopeValue: string;
}

export const EMPTY_DRAFT: Draft = { name: "", url: "", description: "", secret: "", events: [], scopeKind: "global", scopeValue: "" };

/** What is missing before the form can be sent (the server checks the rest and says why). */
export function draftProblems(draft: Draft): string[] {
  const out: string[] = [];
  if (!draft.name.trim()) out.push("a name");
  if (!/^https?:\/\/\S+$/i.test(draft.url.trim())) out.push("an http(s) URL");
  if (draft.events.length === 0) out.push("at least one event");
  if (draft.scopeKind !== "global" && !draft.scopeValue.trim()) out.push(draft.scopeKind === "experiment" ? "the experiment id" : "the model name");
  return out;
}

export function bodyOf(draft: Draft): NewWebhook {
  const body: NewWebhook = { name: draft.name.trim(), url: draft.url.trim(), events: [...draft.events] };
  if (draft.description.trim()) body.description = draft.description.trim();
  if (draft.secret) body.secret = draft.secret;
  if (draft.scopeKind === "experiment") body.scope = { experiment_id: draft.scopeValue.trim() };
  if (draft.scopeKind === "model") body.scope = { model_name: draft.scopeValue.trim() };
  return body;
}

export function toggle(list: string[], item: string, on: boolean): string[] {
  return on ? (list.includes(item) ? list : [...list, item]) : list.filter((x) => x !== item);
}

/** "HTTP 200", "HTTP 500", or the error when no answer came ("timed out after 10 s"). */
export function outcomeText(d: Pick<Delivery, "last_status_code" | "error" | "state" | "attempts">): string {
  if (d.attempts === 0) return "not sent yet";
  if (d.last_status_code !== null && d.last_status_code !== undefined) {
    return d.error && d.state !== "succeeded" ? d.error : `HTTP ${d.last_status_code}`;
  }
  return d.error ?? "no answer";
}

export function scopeText(scope: Record<string, string> | null | undefined): string {
  if (!scope) return "all events";
  if (scope.experiment_id) return `experiment ${scope.experiment_id}`;
  if (scope.model_name) return `model ${scope.model_name}`;
  return "all events";
}

/** A response excerpt on one line, at most `max` characters. */
export function excerpt(text: string | null | undefined, max = 80): string {
  if (!text) return "";
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
