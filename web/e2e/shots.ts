// Screenshots for docs/screenshots/, written only when CAIRN_E2E_SCREENSHOTS=1, so that an
// ordinary test run leaves the committed PNGs alone. Refresh them all with
//   cd web && CAIRN_E2E_SCREENSHOTS=1 npx playwright test
import { resolve } from "node:path";
import { expect, type Locator, type Page } from "@playwright/test";

const DIR = resolve(import.meta.dirname, "..", "..", "docs", "screenshots");
export const SHOTS = process.env.CAIRN_E2E_SCREENSHOTS === "1";

/** Switch to `theme` with the header's toggle (as a user would: the page keeps its state,
 * the charts redraw on the theme event) and wait until the page has it. */
export async function setTheme(page: Page, theme: "light" | "dark"): Promise<void> {
  const html = page.locator("html");
  await expect(html).toHaveAttribute("data-theme", /^(light|dark)$/); // set by index.html
  if ((await html.getAttribute("data-theme")) !== theme) await page.getByTestId("theme-toggle").click();
  await expect(html).toHaveAttribute("data-theme", theme);
}

export interface ShotOptions {
  /** The whole page, not just the viewport: the viewport is made as tall as the content
   * for the shot (the app scrolls inside its main area, which Playwright's own full-page
   * screenshot would not capture), at most 6,000 px. */
  fullPage?: boolean;
}

/** docs/screenshots/`name`.png in the current theme: the viewport as it is, the whole page
 * with `fullPage`, or just `target` (shot in a viewport as tall as the content, so that it is
 * not cut by the main area's scrolling). Does nothing unless CAIRN_E2E_SCREENSHOTS=1. */
export async function shot(page: Page, name: string, target?: Locator, options: ShotOptions = {}): Promise<void> {
  if (!SHOTS) return;
  const path = `${DIR}/${name}.png`;
  if (!target && !options.fullPage) {
    await page.screenshot({ path });
    return;
  }
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
