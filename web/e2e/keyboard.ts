// Reaching a control the way a keyboard user does: Tab from where the focus is until the
// control has it (at most `max` presses), so a test proves it is in the tab order.
import { expect, type Locator, type Page } from "@playwright/test";

export async function tabTo(page: Page, target: Locator, max = 120, backwards = false): Promise<void> {
  await expect(target).toBeVisible();
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(backwards ? "Shift+Tab" : "Tab");
  }
  await expect(target, `reached by ${max} presses of Tab`).toBeFocused();
}

/** Focus the page's first element (the skip-free start of the tab order). */
export async function fromTop(page: Page): Promise<void> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
}
