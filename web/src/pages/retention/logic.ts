// Retention panel logic: the form's values as a policy body, and the words shown for a policy
// and for a dry run.
import type { PolicyBody, RetentionPolicy, RetentionReport } from "./api";

export const MAX_DAYS = 36500;

export interface Form {
  days: string;
  statuses: string[];
  keepNewest: string;
  enabled: boolean;
}

export function formOf(p: RetentionPolicy | null): Form {
  if (!p) return { days: "90", statuses: [], keepNewest: "0", enabled: true };
  return { days: String(p.older_than_days), statuses: [...p.statuses], keepNewest: String(p.keep_newest), enabled: p.enabled };
}

function whole(text: string, max: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n <= max ? n : null;
}

/** The body to send, or the reason the form cannot be sent. */
export function bodyOf(form: Form): { body: PolicyBody } | { error: string } {
  const days = whole(form.days, MAX_DAYS);
  if (days === null) return { error: `Days: a whole number from 0 to ${MAX_DAYS}` };
  const keep = form.keepNewest.trim() === "" ? 0 : whole(form.keepNewest, 1_000_000);
  if (keep === null) return { error: "Keep newest: a whole number (0 keeps none for being recent)" };
  return { body: { older_than_days: days, statuses: form.statuses, keep_newest: keep, enabled: form.enabled } };
}

/** "FAILED and KILLED runs that ended more than 30 days ago, keeping the newest 5". */
export function describe(p: Pick<RetentionPolicy, "older_than_days" | "statuses" | "keep_newest">): string {
  const which = p.statuses.length ? `${p.statuses.join(" and ")} runs` : "Finished runs";
  const days = p.older_than_days === 1 ? "1 day" : `${p.older_than_days} days`;
  const keep = p.keep_newest ? `, keeping the newest ${p.keep_newest}` : "";
  return `${which} that ended more than ${days} ago are deleted${keep}.`;
}

/** "12 runs would be deleted; kept: 2 behind model versions, 1 tagged cairn.keep, 0 newest". */
export function reportText(r: Pick<RetentionReport, "deleted_runs" | "kept_registered" | "kept_tagged" | "kept_newest">): string {
  const n = r.deleted_runs === 1 ? "1 run would be deleted" : `${r.deleted_runs} runs would be deleted`;
  return `${n}; kept: ${r.kept_registered} behind model versions, ${r.kept_tagged} tagged cairn.keep, ${r.kept_newest} among the newest.`;
}
