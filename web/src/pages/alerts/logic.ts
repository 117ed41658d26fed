// The Alerts page's pure parts: a rule's condition in words, the create form's draft turned
// into a request body (with the field a mistake is in), and the bell's label.
import type { Alert, Rule, RuleBody, RuleKind } from "./api";

export interface Draft {
  name: string;
  kind: RuleKind;
  scope: "experiment" | "model";
  target: string; // the experiment id or the model name
  filter: string;
  metric: string;
  op: string;
  value: string;
  against: "best" | "previous";
  measure: "percent" | "absolute";
  direction: "" | "max" | "min";
  minutes: string;
}

export const EMPTY_DRAFT: Draft = {
  name: "",
  kind: "threshold",
  scope: "experiment",
  target: "",
  filter: "",
  metric: "",
  op: ">",
  value: "",
  against: "best",
  measure: "percent",
  direction: "",
  minutes: "30",
};

export class DraftError extends Error {
  constructor(
    readonly field: keyof Draft,
    message: string,
  ) {
    super(message);
  }
}

const METRIC_KINDS: RuleKind[] = ["threshold", "drop", "non_finite"];

export function usesMetric(kind: RuleKind): boolean {
  return METRIC_KINDS.includes(kind);
}

/** The request body of a draft; a DraftError names the field to fix. The server checks again. */
export function bodyOf(d: Draft): RuleBody {
  const name = d.name.trim();
  if (!name) throw new DraftError("name", "Give the rule a name");
  const target = d.target.trim();
  if (!target) throw new DraftError("target", d.scope === "experiment" ? "Which experiment (its id)?" : "Which registered model?");
  if (d.scope === "experiment" && !/^\d+$/.test(target)) throw new DraftError("target", "An experiment id is a number");
  if (d.scope === "model" && (d.kind === "stalled" || d.kind === "failed_run")) {
    throw new DraftError("kind", "Stalled and failed-run rules watch an experiment's runs");
  }
  const body: RuleBody = { name, kind: d.kind };
  if (d.scope === "experiment") body.experiment_id = target;
  else body.model_name = target;
  if (d.scope === "experiment" && d.filter.trim()) body.filter = d.filter.trim();
  if (usesMetric(d.kind)) {
    const metric = d.metric.trim();
    if (!metric) throw new DraftError("metric", "Which metric?");
    body.metric = metric;
  }
  if (d.kind === "threshold" || d.kind === "drop") {
    const value = Number(d.value);
    if (d.value.trim() === "" || !Number.isFinite(value)) throw new DraftError("value", "The value must be a number");
    if (d.kind === "drop" && value <= 0) throw new DraftError("value", "The allowed drop must be above 0");
    body.value = value;
  }
  if (d.kind === "threshold") body.op = d.op;
  if (d.kind === "drop") {
    body.against = d.against;
    body.measure = d.measure;
    if (d.direction) body.direction = d.direction;
  }
  if (d.kind === "stalled") {
    const minutes = Number(d.minutes);
    if (!Number.isInteger(minutes) || minutes < 1) throw new DraftError("minutes", "Minutes must be a whole number above 0");
    body.minutes = minutes;
  }
  return body;
}

/** A rule's condition in words, as the rule list shows it. */
export function condition(rule: Rule): string {
  switch (rule.kind) {
    case "threshold":
      return `${rule.metric === "*" ? "any metric" : rule.metric} ${rule.op} ${rule.value}`;
    case "drop": {
      const unit = rule.measure === "absolute" ? "" : "%";
      const way = rule.direction === "min" ? "above" : "below";
      return `${rule.metric} more than ${rule.value}${unit} ${way} the ${rule.against} ${rule.model_name ? "version" : "run"}`;
    }
    case "non_finite":
      return `${rule.metric === "*" ? "any metric" : rule.metric} is NaN or infinite`;
    case "stalled":
      return `no metric for ${rule.minutes} min while RUNNING`;
    default:
      return "a run fails";
  }
}

/** Where a rule looks: the experiment (with its filter) or the model. */
export function scopeOf(rule: Rule): string {
  if (rule.model_name) return `model ${rule.model_name}`;
  return `experiment ${rule.experiment_id}${rule.filter ? ` where ${rule.filter}` : ""}`;
}

/** Where an alert's subject lives in the UI. */
export function subjectLink(alert: Alert): string {
  if (alert.subject_type === "run") return `/runs/${encodeURIComponent(alert.subject_id)}`;
  const cut = alert.subject_id.lastIndexOf("/");
  const name = alert.subject_id.slice(0, cut);
  const version = alert.subject_id.slice(cut + 1);
  return `/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
}

/** The bell's accessible label and badge text (none at 0; 999+ past the server's cap). */
export function bellLabel(firing: number): { label: string; badge: string | null } {
  if (firing <= 0) return { label: "Alerts: none firing", badge: null };
  const badge = firing >= 1000 ? "999+" : String(firing);
  return { label: `Alerts: ${badge} firing`, badge };
}
