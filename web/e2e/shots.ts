// Screenshots for docs/screenshots/, taken when CAIRN_E2E_SCREENSHOTS=1 (light and dark).
import { resolve } from "node:path";
import type { Locator, Page } from "@playwright/test";

const DIR = resolve(import.meta.dirname, "..", "..", "docs", "screenshots");
export const SHOTS = process.env.CAIRN_E2E_SCREENSHOTS === "1";

export async function setTheme(page: Page, theme: "light" | "dark"): Promise<void> {
  const now = await page.locator("html").getAttribute("data-theme");
  if (now !== theme) await page.getByTestId("theme-toggle").click();
}

/** `name`.png in the current theme; `target` narrows it to one element. */
export async function shot(page: Page, name: string, target?: Locator): Promise<void> {
  if (!SHOTS) return;
  const path = `${DIR}/${name}.png`;
  if (target) await target.screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}
