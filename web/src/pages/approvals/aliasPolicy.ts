// A registered model's alias policy (/api/v1/models/{name}/alias-policy): the aliases Cairn
// keeps by itself (latest on the newest version, best on the version whose source run has the
// best value of a metric), and the decisions of its card apart from the component
// (aliasPolicy.test.ts): the summary sentence and the form's fields checked into a body.
import { apiDelete, apiGet, apiPut } from "../../api/http";
import type { V1 } from "../../api/types";

const enc = encodeURIComponent;

export type Direction = "max" | "min";

export interface AliasPolicyBody {
  latest: boolean;
  latest_alias: string;
  best_metric: string | null;
  best_direction: Direction;
  best_alias: string;
}

export interface AliasPolicy extends AliasPolicyBody {
  model_name: string;
  updated_at: number;
  updated_by: string;
}

export const aliasPolicyPath = (name: string) => `/api/v1/models/${enc(name)}/alias-policy`;
export const getAliasPolicy = (name: string) => apiGet<AliasPolicy>(aliasPolicyPath(name));
export const putAliasPolicy = (name: string, body: AliasPolicyBody) => apiPut<AliasPolicy>(aliasPolicyPath(name), body);
export const deleteAliasPolicy = (name: string) => apiDelete<unknown>(aliasPolicyPath(name));

/** One sentence for the model page: which aliases Cairn keeps, and where. */
export function aliasPolicySummary(p: AliasPolicyBody): string {
  const rules: string[] = [];
  if (p.latest) rules.push(`@${p.latest_alias} on the newest version`);
  if (p.best_metric) {
    const way = p.best_direction === "max" ? "highest" : "lowest";
    rules.push(`@${p.best_alias} on the version whose run has the ${way} ${p.best_metric}`);
  }
  return rules.length ? `Cairn keeps ${rules.join(" and ")}.` : "Cairn keeps no alias.";
}

/** The form's fields as the user types them. */
export interface AliasDraft {
  latest: boolean;
  latest_alias: string;
  best: boolean;
  best_metric: string;
  best_direction: Direction;
  best_alias: string;
}

export function aliasDraftOf(p: AliasPolicy | null | undefined): AliasDraft {
  return {
    latest: p?.latest ?? true,
    latest_alias: p?.latest_alias ?? "latest",
    best: !!p?.best_metric,
    best_metric: p?.best_metric ?? "",
    best_direction: p?.best_direction ?? "max",
    best_alias: p?.best_alias ?? "best",
  };
}

const ALIAS = /^[\w-]{1,255}$/;
const VERSION_LIKE = /^v\d+$/i;

function aliasProblem(label: string, alias: string, mayBeLatest: boolean): string | null {
  if (!ALIAS.test(alias)) return `${label}: letters, digits, "_" or "-" (at most 255)`;
  if (VERSION_LIKE.test(alias) || (!mayBeLatest && alias.toLowerCase() === "latest")) return `${label}: "${alias}" is reserved`;
  return null;
}

/** The body to send, or what is wrong with the draft (the server checks again). */
export function aliasBodyOf(d: AliasDraft): { body: AliasPolicyBody } | { problems: string[] } {
  const problems: string[] = [];
  const latestAlias = d.latest_alias.trim() || "latest";
  const bestAlias = d.best_alias.trim() || "best";
  const metric = d.best_metric.trim();
  if (!d.latest && !d.best) problems.push("Turn on latest, best or both");
  if (d.latest) {
    const p = aliasProblem("Latest alias", latestAlias, true);
    if (p) problems.push(p);
  }
  if (d.best) {
    if (!metric) problems.push("Best: name the metric");
    const p = aliasProblem("Best alias", bestAlias, false);
    if (p) problems.push(p);
    if (d.latest && bestAlias === latestAlias) problems.push("The best alias must differ from the latest alias");
  }
  if (problems.length) return { problems };
  return {
    body: {
      latest: d.latest,
      latest_alias: latestAlias,
      best_metric: d.best ? metric : null,
      best_direction: d.best_direction,
      best_alias: bestAlias,
    },
  };
}

// tsc checks that the server's OpenAPI description still fits these shapes.
type Fits<Server, Ours> = Server extends Ours ? true : never;
export const aliasContractFits: [Fits<V1<"AliasPolicyOut">, AliasPolicy>, Fits<AliasPolicyBody, V1<"AliasPolicyIn">>] = [true, true];
