// Every e2e test fails on any console error or uncaught page error.
import { test as base, expect } from "@playwright/test";
import { Api } from "./api";

export const test = base.extend<{ api: Api; consoleErrors: string[] }>({
  baseURL: async ({}, use) => {
    const url = process.env.CAIRN_E2E_URL;
    if (!url) throw new Error("CAIRN_E2E_URL is not set: the global setup did not start the server");
    await use(url);
  },
  api: async ({ baseURL }, use) => {
    await use(new Api(baseURL!));
  },
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(`console.error: ${msg.text()}`);
      });
      page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
      await use(errors);
      expect(errors, "no console errors or page errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
