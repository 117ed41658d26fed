import { test, expect } from "./fixtures";

test("home page, nav and theme toggle", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("link", { name: "Cairn home" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Experiments" })).toBeVisible();
  await nav.getByRole("link", { name: "Models" }).click();
  await expect(page).toHaveURL(/\/models$/);
  await nav.getByRole("link", { name: "Datasets" }).click();
  await expect(page).toHaveURL(/\/datasets$/);
  const html = page.locator("html");
  const before = await html.getAttribute("data-theme");
  await page.getByTestId("theme-toggle").click();
  const after = await html.getAttribute("data-theme");
  expect(after).not.toEqual(before);
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", after!);
});

test("deep link to a client route loads the app", async ({ page }) => {
  await page.goto("/no/such/page");
  await expect(page.getByText("Page not found")).toBeVisible();
});
