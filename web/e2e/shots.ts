// Screenshots for docs/screenshots/, taken when CAIRN_E2E_SCREENSHOTS=1 (light and dark).
import { resolve } from "node:path";
import type { Locator, Page } from "@playwright/test";

const DIR = resolve(import.meta.dirname, "..", "..", "docs", "screenshots");
export const SHOTS = process.env.CAIRN_E2E_SCREENSHOTS === "1";

export async function setTheme(page: Page, theme: "light" | "dark"): Promise<void> {
  const now = await page.locator("html").getAttribute("data-theme");
  if (now !== theme) await page.getByTestId("theme-toggle").click();
}

/** `name`.png in the current theme; `target` narrows it to one element. Whole pages are shot
 * in a viewport as tall as their content (the app scrolls inside its main area, which a
 * full-page screenshot would not capture). */
export async function shot(page: Page, name: string, target?: Locator): Promise<void> {
  if (!SHOTS) return;
  const path = `${DIR}/${name}.png`;
  const size = page.viewportSize()!;
  const tall = await page.evaluate(() => {
    const main = document.querySelector("main");
    const top = main ? main.getBoundingClientRect().top : 0;
    return Math.ceil(top + (main ? main.scrollHeight : document.body.scrollHeight));
  });
  await page.setViewportSize({ width: size.width, height: Math.min(6000, Math.max(size.height, tall)) });
  try {
    if (target) await target.screenshot({ path });
    else await page.screenshot({ path });
  } finally {
    await page.setViewportSize(size);
  }
}
