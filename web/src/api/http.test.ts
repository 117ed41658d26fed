import { describe, expect, it } from "vitest";
import { authEvents, readResponse, requestHeaders, setCsrfToken, UNAUTHENTICATED, withQuery } from "./http";

describe("withQuery", () => {
  it("repeats list keys and drops empty values", () => {
    expect(withQuery("/x", { a: ["1", "2"], b: undefined, c: null, d: 0, e: "é &" })).toBe(
      "/x?a=1&a=2&d=0&e=%C3%A9+%26",
    );
  });
  it("leaves a path without params alone", () => {
    expect(withQuery("/x")).toBe("/x");
    expect(withQuery("/x", {})).toBe("/x");
  });
});

describe("requestHeaders", () => {
  it("sends the CSRF token on writes only", () => {
    expect(requestHeaders("POST", true, "tok")).toEqual({ Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": "tok" });
    expect(requestHeaders("delete", false, "tok")).toEqual({ Accept: "application/json", "X-CSRF-Token": "tok" });
    expect(requestHeaders("GET", false, "tok")).toEqual({ Accept: "application/json" });
    expect(requestHeaders("PATCH", true, null)).toEqual({ Accept: "application/json", "Content-Type": "application/json" });
  });
  it("uses the token the session set", () => {
    setCsrfToken("from-session");
    expect(requestHeaders("PUT", true)["X-CSRF-Token"]).toBe("from-session");
    setCsrfToken(null);
    expect(requestHeaders("PUT", true)["X-CSRF-Token"]).toBeUndefined();
  });
});

describe("readResponse", () => {
  it("tells the app of a 401 and throws the server's error", async () => {
    const seen: unknown[] = [];
    const listen = (e: Event) => seen.push((e as CustomEvent).detail);
    authEvents.addEventListener(UNAUTHENTICATED, listen);
    const body = JSON.stringify({ error_code: "UNAUTHENTICATED", message: "Authentication required" });
    await expect(readResponse(new Response(body, { status: 401 }))).rejects.toMatchObject({ status: 401, errorCode: "UNAUTHENTICATED" });
    await expect(readResponse(new Response("{}", { status: 403 }))).rejects.toMatchObject({ status: 403 });
    authEvents.removeEventListener(UNAUTHENTICATED, listen);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ status: 401, message: "Authentication required" });
  });
});
