// The decisions of the sign-in and access pages, kept apart from the components so they are
// tested on their own (logic.test.ts).
import { ApiError } from "../../api/http";

/** Where to go after signing in: `next` when it is a path of this app, else the start page
 * (never another origin: `//evil.example` or `https://…` are refused). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login")) return "/";
  return next;
}

/** The login page's address for someone who was at `path` + `search`. */
export function loginPath(path: string, search = ""): string {
  const here = `${path}${search}`;
  return here === "/" || path.startsWith("/login") ? "/login" : `/login?next=${encodeURIComponent(here)}`;
}

/** The expiry choices of a new token, in days; `null` is "never". */
export const EXPIRY_CHOICES: { label: string; days: number | null }[] = [
  { label: "7 days", days: 7 },
  { label: "30 days", days: 30 },
  { label: "90 days", days: 90 },
  { label: "1 year", days: 365 },
  { label: "Never", days: null },
];

export type TokenState = "active" | "expired" | "revoked";

export function tokenState(token: { expires_at?: number | null; revoked_at?: number | null }, now: number): TokenState {
  if (token.revoked_at != null) return "revoked";
  if (token.expires_at != null && token.expires_at <= now) return "expired";
  return "active";
}

/** A message for an API failure that a person can act on: a 403 says what is missing. */
export function failureText(error: unknown, what = "do this"): string {
  if (error instanceof ApiError) {
    if (error.status === 403) return `You are not allowed to ${what}: ${error.message}`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Why the permissions panel offers no changes, or null when it may (MANAGE or admin). */
export function manageBlocker(caller: string | undefined, isAdmin: boolean, kind: "experiment" | "registered model"): string | null {
  if (isAdmin || caller === "MANAGE") return null;
  return `You need MANAGE on this ${kind} to change who may use it${caller ? ` (you have ${caller})` : ""}.`;
}

/** A new password's problem, or null: at least 12 characters, and the two entries equal. */
export function passwordProblem(password: string, again: string): string | null {
  if (password.length < 12) return "The new password needs at least 12 characters.";
  if (password !== again) return "The two new passwords differ.";
  return null;
}
