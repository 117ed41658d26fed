import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The app is written against React's API and runs on Preact (preact/compat), which renders
// the same components with a fraction of the code: the experiment page's first rows appear
// sooner because there is less script to compile and run (docs/ui.md, "Speed").
// `npm run dev` serves the app on :5173 and forwards API calls to a local `cairn server`
// (CAIRN_DEV_SERVER, default http://127.0.0.1:5000); an edit reloads the page.
const backend = process.env.CAIRN_DEV_SERVER ?? "http://127.0.0.1:5000";
const proxied = ["/api", "/ajax-api", "/health", "/version", "/docs", "/openapi.json"];

// react-router's package exports only its development build (with its dev-time warnings); the
// built app takes the production build that ships beside it
const routerProduction = fileURLToPath(new URL("./node_modules/react-router/dist/production/index.mjs", import.meta.url));

export default defineConfig(({ command }) => ({
  oxc: { jsx: { runtime: "automatic", importSource: "preact/compat" } },
  resolve: {
    alias: [
      // libraries' own JSX (TanStack Query's provider) must make Preact elements too
      { find: /^react\/jsx-(dev-)?runtime$/, replacement: "preact/compat/jsx-runtime" },
      { find: /^react-dom\/client$/, replacement: "preact/compat/client" },
      { find: /^react-dom$/, replacement: "preact/compat" },
      { find: /^react$/, replacement: "preact/compat" },
      ...(command === "build" ? [{ find: /^react-router$/, replacement: routerProduction }] : []),
    ],
  },
  build: {
    outDir: "../cairn/server/static",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      output: {
        codeSplitting: { groups: [{ name: "app", tags: ["$initial"] }] },
      },
      // TanStack Query marks its React modules "use client" (a server-components hint that
      // means nothing in a browser bundle)
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE" && warning.message.includes('"use client"')) return;
        // react-router looks React 19's useOptimistic up by name and falls back to its own code
        // when it is absent, as it is in preact/compat: the undefined import is the expected case
        if (warning.code === "IMPORT_IS_UNDEFINED" && /\buseOptimistic\b/.test(warning.message) && warning.message.includes("preact/compat")) return;
        warn(warning);
      },
    },
  },
  server: {
    host: "127.0.0.1",
    // the browser's Host goes on unchanged, so the server sees its writes as same-origin
    // (its request guard refuses a write whose Origin is not the Host it was sent to)
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: backend, changeOrigin: false }])),
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
}));
