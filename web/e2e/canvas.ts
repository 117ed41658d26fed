// What a chart's canvas shows, for the tests of the pages that draw with ECharts.
import type { Page } from "@playwright/test";
import { expect } from "./fixtures";

/** A chart drew something: its canvas is visible, has a size, and enough pixels are painted. */
export async function expectDrawn(page: Page, testId: string): Promise<void> {
  const canvas = page.getByTestId(testId).locator("canvas").first();
  await expect(canvas).toBeVisible();
  await expect
    .poll(
      () =>
        canvas.evaluate((c: HTMLCanvasElement) => {
          if (c.width === 0 || c.height === 0) return 0;
          const ctx = c.getContext("2d");
          if (!ctx) return 0;
          const data = ctx.getImageData(0, 0, c.width, c.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4 * 7) if (data[i] > 0) painted++;
          return painted;
        }),
      { message: `${testId} draws` },
    )
    .toBeGreaterThan(50);
}

/** A fingerprint of what a chart's canvas shows (a sum over sampled pixels), to tell a redraw. */
export async function canvasPrint(page: Page, testId: string): Promise<number> {
  return page
    .getByTestId(testId)
    .locator("canvas")
    .first()
    .evaluate((c: HTMLCanvasElement) => {
      const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      for (let i = 0; i < data.length; i += 4 * 5) sum = (sum * 31 + data[i] + data[i + 1] * 3 + data[i + 2] * 7) % 1_000_000_007;
      return sum;
    });
}
