// The Artifacts tab against the live server: the files of a sweep's runs logged through the
// artifact API, searched by name and filtered by type (checked against /api/v1/artifacts),
// previewed (image, Markdown, PDF, audio, video, a model folder's MLmodel), reached from an
// experiment's tabs and from the top bar, and an unknown experiment says so.
import type { Api } from "./api";
import { test, expect } from "./fixtures";
import { pdf, png, wav, webm } from "./files";
import { setTheme, shot } from "./shots";

const REPORT = `# Sweep report

The best trial reached **test F1 0.93** with \`max_depth=8\`.

| trial | max_depth | test F1 |
|:--|--:|--:|
| 0 | 2 | 0.81 |
| 3 | 8 | 0.93 |

- confusion matrix: see \`plots/confusion.png\`
- [MLflow docs](https://mlflow.org/docs/latest/index.html)
- [not followed](javascript:alert(1))
`;

const MLMODEL = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.12.3
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.7.2
mlflow_version: 3.17.2
run_id: RUN
`;

interface Made {
  experimentId: string;
  name: string;
  runs: string[];
}

async function put(baseURL: string, experimentId: string, runId: string, path: string, body: Buffer | string): Promise<void> {
  const r = await fetch(`${baseURL}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/${path}`, { method: "PUT", body: typeof body === "string" ? body : new Uint8Array(body) });
  if (!r.ok) throw new Error(`PUT ${path} -> ${r.status}: ${await r.text()}`);
}

async function seed(api: Api, baseURL: string, name: string, video: Buffer): Promise<Made> {
  const experimentId = await api.createExperiment(name);
  const runs: string[] = [];
  const t0 = Date.now() - 3 * 3600_000;
  for (let i = 0; i < 4; i++) {
    const runId = await api.createRun(experimentId, `trial-${i}`, { start: t0 + i * 600_000 });
    await api.logBatch(runId, { max_depth: 2 + i * 2 }, { test_f1: 0.81 + i * 0.04 });
    const hue = (i * 70) % 255;
    await put(baseURL, experimentId, runId, "plots/confusion.png", png(96, 72, [40, 90 + hue / 3, 160], [240, 200 - hue / 2, 60]));
    await put(baseURL, experimentId, runId, "config.yaml", `max_depth: ${2 + i * 2}\ncriterion: gini\n`);
    await put(baseURL, experimentId, runId, "train.log", `epoch 1 loss 0.5\nepoch 2 loss 0.3\n`);
    await put(baseURL, experimentId, runId, "model/MLmodel", MLMODEL.replace("RUN", runId));
    await put(baseURL, experimentId, runId, "model/model.pkl", Buffer.alloc(2048, 7));
    await api.finish(runId);
    runs.push(runId);
  }
  const last = runs[runs.length - 1]!;
  await put(baseURL, experimentId, last, "report.md", REPORT);
  await put(baseURL, experimentId, last, "report.pdf", pdf("Sweep report: test F1 0.93"));
  await put(baseURL, experimentId, last, "audio/tone.wav", wav(0.5));
  await put(baseURL, experimentId, last, "video/clip.webm", video);
  // an MLflow 3 logged model the last run produced, its files apart from the run's
  const logged = await api.post<{ model: { info: { model_id: string } } }>("/logged-models", { experiment_id: experimentId, name: "classifier", source_run_id: last });
  const modelId = logged.model.info.model_id;
  for (const [path, body] of [["MLmodel", MLMODEL.replace("RUN", last)], ["model.pkl", "p".repeat(512)]] as const) {
    const r = await fetch(`${baseURL}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/models/${modelId}/artifacts/${path}`, { method: "PUT", body });
    if (!r.ok) throw new Error(`PUT ${path} -> ${r.status}`);
  }
  return { experimentId, name, runs };
}

let made: Made;

test.beforeAll(async ({ baseURL, browser }) => {
  const { Api } = await import("./api");
  const recorder = await browser.newPage();
  const video = await webm(recorder, 1.2);
  await recorder.close();
  made = await seed(new Api(baseURL!), baseURL!, `artifact-tour-${Date.now()}`, video);
});

test("an experiment's Artifacts tab searches, filters by type and previews", async ({ page, baseURL }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`/experiments/${made.experimentId}`);
  await page.getByTestId("tab-artifacts").click();
  await expect(page).toHaveURL(new RegExp(`/experiments/${made.experimentId}/artifacts$`));
  const rows = page.getByTestId("artifact-row");
  // 4 runs × (image, config, log, model folder) + the last run's report, PDF, audio, video
  // and logged model
  await expect(rows).toHaveCount(21);
  await expect(page.getByTestId("artifact-count")).toHaveText("21 artifacts in 4 runs looked at");
  const api = await (await fetch(`${baseURL}/api/v1/artifacts?experiment_id=${made.experimentId}`)).json();
  expect(api.artifacts).toHaveLength(21);
  expect(api.artifacts[0].run_id).toBe(made.runs[3]); // newest run first

  // the newest run's first artifact is previewed at once; the model folder shows its flavours
  await page.getByTestId("type-model").click();
  await expect(rows).toHaveCount(5);
  await expect(rows.first()).toHaveAttribute("data-type", "model");
  await expect(page.getByTestId("mlmodel-summary")).toContainText("sklearn");
  await expect(page.getByTestId("mlmodel-summary")).toContainText(made.runs[3]!);
  // the logged model comes after its run's own files, previewed from its own location
  await expect(rows.nth(1)).toContainText("classifier");
  await expect(rows.nth(1)).toContainText("logged model · 2 files");
  await rows.nth(1).getByRole("button").click();
  await expect(page.getByLabel("Preview of MLmodel")).toBeVisible();
  await expect(page.getByTestId("mlmodel-summary")).toContainText("sklearn");
  const models = await (await fetch(`${baseURL}/api/v1/artifacts?experiment_id=${made.experimentId}&type=model`)).json();
  expect(models.artifacts[1]).toMatchObject({ path: "classifier", is_dir: true, files: 2 });
  expect(models.artifacts[1].model_id).toMatch(/^m-/);

  // images: thumbnails in the list, the picture in the preview
  await page.getByTestId("type-image").click();
  await expect(rows).toHaveCount(4);
  await expect(page).toHaveURL(/type=image/);
  const thumb = rows.first().locator("img.art-thumb");
  await expect(thumb).toBeVisible();
  await expect.poll(() => thumb.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(96);
  await rows.nth(2).getByRole("button").click();
  await expect(page.locator(".preview-image")).toBeVisible();
  await expect(page.locator(".art-preview-run")).toContainText("trial-1");
  await setTheme(page, "light");
  await shot(page, "artifacts-images-1440");

  // search by name, with the type filter off
  await page.getByTestId("type-image").click(); // a second click clears the type
  await page.getByTestId("artifact-search").fill("report");
  await page.keyboard.press("Enter");
  await expect(rows).toHaveCount(2);
  await expect(page).toHaveURL(/q=report/);
  const byName = await (await fetch(`${baseURL}/api/v1/artifacts?experiment_id=${made.experimentId}&q=report`)).json();
  expect(byName.artifacts.map((a: { path: string }) => a.path)).toEqual(["report.md", "report.pdf"]);

  // Markdown drawn as elements: the table, bold text, a safe link, an unsafe one not followed
  await rows.first().getByRole("button").click();
  const md = page.getByTestId("markdown-preview");
  await expect(md.locator("h1")).toHaveText("Sweep report");
  await expect(md.locator("strong")).toHaveText("test F1 0.93");
  await expect(md.locator("table tbody tr")).toHaveCount(2);
  await expect(md.locator('a[href^="https://mlflow.org"]')).toHaveCount(1);
  await expect(md.locator('a[href^="javascript"]')).toHaveCount(0);
  await expect(md.locator(".md-unsafe-link")).toHaveText("not followed");
  await shot(page, "artifacts-markdown-1440");

  // the PDF in the browser's viewer, read from the artifact route as application/pdf
  await rows.nth(1).getByRole("button").click();
  const pdfObject = page.getByTestId("pdf-preview");
  await expect(pdfObject).toHaveAttribute("type", "application/pdf");
  const pdfUrl = await pdfObject.getAttribute("data");
  const pdfAnswer = await fetch(`${baseURL}${pdfUrl}`);
  expect(pdfAnswer.headers.get("content-type")).toBe("application/pdf");
  expect((await pdfAnswer.text()).startsWith("%PDF-1.4")).toBe(true);

  // audio and video play from the artifact route
  await page.getByTestId("artifact-search").fill("");
  await page.keyboard.press("Enter");
  await page.getByTestId("type-media").click();
  await expect(rows).toHaveCount(2);
  await rows.first().getByRole("button").click();
  const audio = page.getByTestId("audio-preview");
  await expect(audio).toBeVisible();
  await expect.poll(() => audio.evaluate((a: HTMLAudioElement) => a.duration)).toBeCloseTo(0.5, 1);
  await audio.evaluate(async (a: HTMLAudioElement) => {
    a.muted = true;
    await a.play();
  });
  await expect.poll(() => audio.evaluate((a: HTMLAudioElement) => a.currentTime)).toBeGreaterThan(0.1);
  await rows.nth(1).getByRole("button").click();
  const video = page.getByTestId("video-preview");
  await expect(video).toHaveAttribute("src", /video\/clip\.webm$/);
  expect((await fetch(`${baseURL}${await video.getAttribute("src")}`)).headers.get("content-type")).toBe("video/webm");
  // the recorded clip really plays: its metadata loads (160×120), its length is found by
  // seeking to the end (MediaRecorder writes none), and time runs once it plays (muted)
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState)).toBeGreaterThanOrEqual(1);
  expect(await video.evaluate((v: HTMLVideoElement) => [v.videoWidth, v.videoHeight])).toEqual([160, 120]);
  const duration = await video.evaluate(
    (v: HTMLVideoElement) =>
      new Promise<number>((done) => {
        if (Number.isFinite(v.duration)) return done(v.duration);
        v.addEventListener("durationchange", () => Number.isFinite(v.duration) && done(v.duration));
        v.currentTime = 1e6;
      }),
  );
  expect(duration).toBeGreaterThan(0.5);
  expect(duration).toBeLessThan(3);
  await video.evaluate(async (v: HTMLVideoElement) => {
    v.muted = true;
    v.currentTime = 0;
    await v.play();
  });
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 }).toBeGreaterThan(0.2);
  expect(await video.evaluate((v: HTMLVideoElement) => v.error)).toBeNull();

  // the chosen artifact opens in its run's artifact browser
  await rows.first().getByRole("button").click();
  await page.getByTestId("open-in-run").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${made.runs[3]}\\?artifact=audio%2Ftone\\.wav#artifacts$`));
  await expect(page.getByLabel("Preview of audio/tone.wav")).toBeVisible();
});

test("the top bar's Artifacts lists every experiment's, narrows to one, at 1280×720", async ({ page, baseURL }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto("/home");
  await page.getByTestId("nav-artifacts").click();
  await expect(page).toHaveURL(/\/artifacts$/);
  await expect(page.getByTestId("artifact-count")).toContainText("across experiments");
  await page.getByTestId("artifact-experiment").selectOption(made.experimentId);
  await expect(page).toHaveURL(new RegExp(`experiment=${made.experimentId}`));
  await page.getByTestId("type-config").click();
  const rows = page.getByTestId("artifact-row");
  await expect(rows).toHaveCount(4);
  await expect(page.locator(".preview-code")).toContainText("max_depth: 8");
  const api = await (await fetch(`${baseURL}/api/v1/artifacts?experiment_id=${made.experimentId}&type=config`)).json();
  expect(api.artifacts.map((a: { run_name: string }) => a.run_name)).toEqual(["trial-3", "trial-2", "trial-1", "trial-0"]);
  await setTheme(page, "light");
  await shot(page, "artifacts-all-1280");
  await page.getByTestId("type-model").click();
  await rows.first().getByRole("button").click();
  await shot(page, "artifacts-model-1280");
});

test("a long listing comes in pages: the next one follows the first, as the API pages it", async ({ page, api, baseURL }) => {
  const experimentId = await api.createExperiment(`artifact-pages-${Date.now()}`);
  for (let i = 0; i < 26; i++) {
    const runId = await api.createRun(experimentId, `r${String(i).padStart(2, "0")}`, { start: Date.now() - (26 - i) * 1000 });
    for (const path of ["a.log", "b.yaml", "c.txt", "d.json"]) await put(baseURL!, experimentId, runId, path, `${i} ${path}\n`);
  }
  const first = await (await fetch(`${baseURL}/api/v1/artifacts?experiment_id=${experimentId}`)).json();
  expect(first.artifacts).toHaveLength(100);
  const second = await (await fetch(`${baseURL}/api/v1/artifacts?experiment_id=${experimentId}&page_token=${first.next_page_token}`)).json();
  expect(second.artifacts.map((a: { run_name: string; path: string }) => `${a.run_name}/${a.path}`)).toEqual(["r00/a.log", "r00/b.yaml", "r00/c.txt", "r00/d.json"]);
  expect(second.next_page_token).toBeNull();

  await page.goto(`/experiments/${experimentId}/artifacts`);
  const rows = page.getByTestId("artifact-row");
  await expect(rows).toHaveCount(100);
  await expect(page.getByTestId("artifact-count")).toHaveText("100 artifacts so far in 25 runs looked at");
  await page.getByTestId("artifact-more").click();
  await expect(rows).toHaveCount(104);
  await expect(rows.last()).toContainText("d.json");
  await expect(rows.last()).toContainText("r00");
  await expect(page.getByTestId("artifact-more")).toHaveCount(0);
  await expect(page.getByTestId("artifact-count")).toHaveText("104 artifacts in 26 runs looked at");
});

test.describe("bad addresses", () => {
  test.use({ allowHttpErrors: [404] });
  test("an unknown experiment's Artifacts tab says not found, with a way back", async ({ page }) => {
    await page.goto("/experiments/987654321/artifacts");
    await expect(page.getByRole("alert")).toContainText("Experiment not found");
    await page.getByRole("link", { name: "All artifacts" }).click();
    await expect(page).toHaveURL(/\/artifacts$/);
  });
});
