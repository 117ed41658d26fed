// The one way the app talks to the server: JSON in, JSON out, and every failure an ApiError
// carrying the server's {"error_code", "message"}.

export class ApiError extends Error {
  readonly status: number;
  readonly errorCode: string;

  constructor(status: number, errorCode: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.errorCode = errorCode;
  }
}

export type QueryValue = string | number | boolean | null | undefined;
export type QueryParams = Record<string, QueryValue | QueryValue[]>;

/** `path` plus a query string; lists become repeated keys (MLflow's GET convention), null and
 * undefined values are left out. */
export function withQuery(path: string, params?: QueryParams): string {
  if (!params) return path;
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v !== null && v !== undefined) search.append(key, String(v));
    }
  }
  const qs = search.toString();
  return qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path;
}

async function parseError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error_code?: unknown; message?: unknown; detail?: unknown };
    const code = typeof body.error_code === "string" ? body.error_code : `HTTP_${response.status}`;
    const message =
      typeof body.message === "string"
        ? body.message
        : typeof body.detail === "string"
          ? body.detail
          : text || response.statusText;
    return new ApiError(response.status, code, message);
  } catch {
    return new ApiError(response.status, `HTTP_${response.status}`, text || response.statusText);
  }
}

// The CSRF token of the browser's session (from /api/v1/auth/session or the login answer):
// every request that may change something carries it, as the server wants for cookie sessions.
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? null;
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

/** Told of every 401 answer, so the app can show its login page (see pages/auth/session.tsx). */
export const authEvents = new EventTarget();
export const UNAUTHENTICATED = "unauthenticated";

/** The headers of a request: JSON in and out, and the CSRF token on anything but a read. */
export function requestHeaders(method: string, hasBody: boolean, csrf: string | null = csrfToken): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (hasBody) headers["Content-Type"] = "application/json";
  if (csrf && !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase())) headers["X-CSRF-Token"] = csrf;
  return headers;
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, headers: requestHeaders(method, body !== undefined), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "NETWORK_ERROR", `Cannot reach the server (${String(err)})`);
  }
  return readResponse<T>(response);
}

/** A fetch Response as the API's answer: its JSON, or an ApiError. */
export async function readResponse<T>(response: Response): Promise<T> {
  if (!response.ok) {
    const error = await parseError(response);
    if (error.status === 401) authEvents.dispatchEvent(new CustomEvent(UNAUTHENTICATED, { detail: error }));
    throw error;
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export function apiGet<T>(path: string, params?: QueryParams, signal?: AbortSignal): Promise<T> {
  return request<T>("GET", withQuery(path, params), undefined, signal);
}

export function apiPost<T>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
  return request<T>("POST", path, body, signal);
}

export function apiPatch<T>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
  return request<T>("PATCH", path, body, signal);
}

export function apiPut<T>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
  return request<T>("PUT", path, body, signal);
}

export function apiDelete<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>("DELETE", path, body, signal);
}

/** MLflow's JSON API root; every MLflow call in the app goes through it. */
export const MLFLOW = "/api/2.0/mlflow";
