// Every e2e test fails on any console error or uncaught page error.
import { test as base, expect } from "@playwright/test";
import { Api } from "./api";

export const test = base.extend<{ api: Api; consoleErrors: string[]; allowHttpErrors: number[] }>({
  // statuses a test provokes on purpose (a bad filter is a 400): Chromium logs
  // "Failed to load resource: … status of 400" for those, which is then not a failure
  allowHttpErrors: [[], { option: true }],
  baseURL: async ({}, use) => {
    const url = process.env.CAIRN_E2E_URL;
    if (!url) throw new Error("CAIRN_E2E_URL is not set: the global setup did not start the server");
    await use(url);
  },
  api: async ({ baseURL }, use) => {
    await use(new Api(baseURL!));
  },
  consoleErrors: [
    async ({ page, allowHttpErrors }, use) => {
      const errors: string[] = [];
      page.on("console", (msg) => {
        if (msg.type() !== "error") return;
        const text = msg.text();
        const status = /Failed to load resource: the server responded with a status of (\d+)/.exec(text);
        if (status && allowHttpErrors.includes(Number(status[1]))) return;
        // a model without a promotion or alias policy: its GET answers 404 by contract, which
        // the model page reads as "no policy"
        if (status?.[1] === "404" && /\/api\/v1\/models\/[^/]+\/(promotion|alias)-policy$/.test(msg.location().url)) return;
        errors.push(`console.error: ${text}${status ? ` (${msg.location().url})` : ""}`);
      });
      page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
      await use(errors);
      expect(errors, "no console errors or page errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
