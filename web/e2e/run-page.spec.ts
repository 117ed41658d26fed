import { test, expect } from "./fixtures";
import { createRunPageData, getRun, tagsOf } from "./run-data";
import { setTheme, shot, SHOTS } from "./shots";

test("run page: overview, params, metrics, datasets, models, children", async ({ page, api }) => {
  const data = await createRunPageData(api, page);
  await page.goto(`/runs/${data.runId}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("rf-baseline");
  const overview = page.getByLabel("Overview");
  await expect(overview.getByText("FINISHED").first()).toBeVisible();
  await expect(overview.getByText("12m 34s")).toBeVisible();
  await expect(overview.getByText("alice")).toBeVisible();
  await expect(overview.getByText("train.py")).toBeVisible();
  await expect(overview.getByRole("link", { name: /run-page-/ })).toHaveAttribute("href", `/experiments/${data.experimentId}`);
  await expect(overview.getByRole("link", { name: /fold-1/ })).toBeVisible();
  await expect(overview.getByRole("link", { name: /fold-2/ })).toBeVisible();

  const params = page.getByRole("table", { name: "Params" });
  await expect(params.getByRole("row", { name: /n_estimators\s+200/ })).toBeVisible();

  const metrics = page.getByRole("table", { name: "Metrics" });
  await expect(metrics.getByRole("link", { name: "loss", exact: true })).toBeVisible();
  const spark = metrics.getByRole("img", { name: "Sparkline of loss" });
  await expect(spark).toBeVisible();
  expect((await spark.locator("path").nth(1).getAttribute("d"))!.split("L").length).toBeGreaterThan(50);

  const dataset = page.getByLabel("Dataset lims-samples");
  await expect(dataset.getByText("1,200 rows")).toBeVisible();
  await expect(dataset.getByText("training")).toBeVisible();
  await expect(dataset.getByLabel("Label distribution").getByText("contaminated")).toBeVisible();
  await expect(dataset.getByRole("table", { name: "numeric column" }).getByText("od600")).toBeVisible();
  await expect(dataset.getByRole("table", { name: "text length" }).getByText("note")).toBeVisible();

  const model = page.getByLabel("Model lims-classifier");
  await expect(model.getByText(data.modelId)).toBeVisible();
  await expect(model.getByText("ready")).toBeVisible();
  await model.locator("summary", { hasText: /^MLmodel$/ }).click();
  await expect(model.getByTestId("mlmodel-summary").getByText("sklearn", { exact: true })).toBeVisible();

  if (SHOTS) {
    await setTheme(page, "light");
    await shot(page, "run-page", undefined, { fullPage: true });
    await setTheme(page, "dark");
    await shot(page, "run-page-dark", undefined, { fullPage: true });
    await setTheme(page, "light");
  }

  // a child links back to its parent
  await overview.getByRole("link", { name: /fold-1/ }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("fold-1");
  await expect(page.getByLabel("Overview").getByRole("link", { name: "rf-baseline" })).toBeVisible();

  // a metric's name leads to its chart
  await page.goto(`/runs/${data.runId}`);
  await page.getByRole("table", { name: "Metrics" }).getByRole("link", { name: "Chart of loss" }).click();
  await expect(page).toHaveURL(new RegExp(`/metrics\\?runs=${data.runId}&keys=loss&x=step`));
  await expect(page.getByRole("figure", { name: "loss" })).toBeVisible();
});

test("run page: edit tags and the description", async ({ page, api }) => {
  const data = await createRunPageData(api, page);
  await page.goto(`/runs/${data.runId}`);
  const tags = page.getByRole("table", { name: "Tags" });
  await expect(tags.getByRole("row", { name: /team\s+lims/ })).toBeVisible();

  // add
  await page.getByLabel("New tag name").fill("reviewer");
  await page.getByLabel("New tag value").fill("bob");
  await page.getByRole("button", { name: "Add tag" }).click();
  await expect(tags.getByRole("row", { name: /reviewer\s+bob/ })).toBeVisible();
  // edit
  await page.getByRole("button", { name: "Edit tag team" }).click();
  await page.getByLabel("Value of team").fill("qa-lab");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(tags.getByRole("row", { name: /team\s+qa-lab/ })).toBeVisible();
  // delete
  await page.getByRole("button", { name: "Delete tag stage" }).click();
  await expect(tags.getByText("stage")).toHaveCount(0);

  // description
  await expect(page.getByTestId("description")).toHaveText("Baseline random forest.");
  await page.getByRole("button", { name: "Edit description" }).click();
  await page.getByLabel("Description").fill("Baseline random forest.\nBest so far on the November export.");
  await page.getByRole("button", { name: "Save description" }).click();
  await expect(page.getByTestId("description")).toContainText("Best so far");

  await expect
    .poll(async () => tagsOf(api, data.runId))
    .toMatchObject({ reviewer: "bob", team: "qa-lab", "mlflow.note.content": "Baseline random forest.\nBest so far on the November export." });
  expect(await tagsOf(api, data.runId)).not.toHaveProperty("stage");
  expect((await getRun(api, data.runId)).info.run_name).toBe("rf-baseline");
});

test("run page: every artifact preview", async ({ page, api }) => {
  const data = await createRunPageData(api, page);
  await page.goto(`/runs/${data.runId}#artifacts`);
  const tree = page.getByRole("navigation", { name: "Artifacts" });
  const open = async (path: string) => {
    const parts = path.split("/");
    for (const dir of parts.slice(0, -1)) {
      const button = tree.getByRole("button", { name: `${dir}/` });
      if ((await button.getAttribute("aria-expanded")) !== "true") await button.click();
    }
    await tree.getByRole("button", { name: new RegExp(`^\\S+ ${parts[parts.length - 1].replace(".", "\\.")}`) }).click();
    const preview = page.getByLabel(`Preview of ${path}`);
    await expect(preview).toBeVisible();
    return preview;
  };
  const section = page.locator("#artifacts");

  const png = await open("plots/roc.png");
  const img = png.getByRole("img", { name: "roc.png" });
  await expect(img).toBeVisible();
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBeGreaterThan(100);
  await expect(png.getByRole("link", { name: "Download" })).toHaveAttribute("href", /plots\/roc\.png$/);
  await shot(page, "artifact-image", section);

  const txt = await open("notes.txt");
  await expect(txt.locator("pre")).toContainText("No leakage found.");

  const json = await open("metrics.json");
  await expect(json.locator("pre[data-language=json] .hljs-attr").first()).toHaveText('"accuracy"');
  await shot(page, "artifact-json", section);

  const yaml = await open("config.yaml");
  await expect(yaml.locator("pre[data-language=yaml] .hljs-attr").first()).toHaveText("model:");

  const py = await open("train.py");
  await expect(py.locator("pre[data-language=python] .hljs-keyword").first()).toHaveText("def");

  const csv = await open("data/sample.csv");
  const csvTable = csv.getByRole("table", { name: "CSV preview" });
  await expect(csvTable.getByRole("columnheader", { name: "od600" })).toBeVisible();
  await expect(csvTable.getByRole("row")).toHaveCount(4);
  await expect(csvTable.getByRole("cell", { name: "contaminated" })).toBeVisible();
  await shot(page, "artifact-csv", section);

  const large = await open("data/large.csv");
  await expect(large.getByText(/500 rows × 3 columns shown \(the first ones; the file is/)).toBeVisible();

  const parquet = await open("data/samples.parquet");
  await expect(parquet.getByText("4 rows × 3 columns")).toBeVisible();
  const pq = parquet.getByRole("table", { name: "Parquet preview" });
  await expect(pq.getByRole("cell", { name: "S-003" })).toBeVisible();
  await expect(pq.getByRole("cell", { name: "1.92" })).toBeVisible();
  await shot(page, "artifact-parquet", section);

  const html = await open("report.html");
  const frame = html.locator("iframe");
  await expect(frame).toHaveAttribute("sandbox", "");
  const inner = html.frameLocator("iframe");
  await expect(inner.getByRole("heading", { name: "Evaluation report" })).toBeVisible();
  await expect(inner.locator("#p")).toHaveText("Static part."); // the script did not run
  await expect(html.getByText("Shown without its script")).toBeVisible();
  await shot(page, "artifact-html", section);

  const mlmodel = await open("model/MLmodel");
  const summary = mlmodel.getByTestId("mlmodel-summary");
  await expect(summary.getByText("python_function")).toBeVisible();
  await expect(summary.getByText("sklearn", { exact: true })).toBeVisible();
  await expect(summary.getByRole("table", { name: "Signature inputs" }).getByRole("cell", { name: "od600" })).toBeVisible();
  await expect(summary.getByRole("table", { name: "Signature outputs" }).getByRole("cell", { name: "contaminated" })).toBeVisible();
  await expect(summary.getByText(data.runId)).toBeVisible();
  await shot(page, "artifact-mlmodel", section);

  const pkl = await open("model/model.pkl");
  await expect(pkl.getByText("No preview for this kind of file")).toBeVisible();

  // the chosen file is in the URL: a reload shows the same preview
  await page.reload();
  await expect(page.getByLabel("Preview of model/model.pkl")).toBeVisible();

  if (SHOTS) {
    await open("metrics.json");
    await setTheme(page, "dark");
    await shot(page, "artifact-json-dark", section);
    await open("model/MLmodel");
    await shot(page, "artifact-mlmodel-dark", section);
    await setTheme(page, "light");
  }
});
