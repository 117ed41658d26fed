import type { FullConfig } from "@playwright/test";
import { startCairn, stopCairn } from "./server";

// One live server for the whole e2e run; tests create their own data through its API.
export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const running = await startCairn();
  process.env.CAIRN_E2E_URL = running.url;
  process.env.CAIRN_E2E_LOG = running.log;
  return async () => {
    await stopCairn(running);
  };
}
