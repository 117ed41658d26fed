import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the app on :5173 and forwards API calls to a local `cairn server`
// (CAIRN_DEV_SERVER, default http://127.0.0.1:5000).
const backend = process.env.CAIRN_DEV_SERVER ?? "http://127.0.0.1:5000";
const proxied = ["/api", "/ajax-api", "/health", "/version", "/docs", "/openapi.json"];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../cairn/server/static",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 1200,
  },
  server: {
    host: "127.0.0.1",
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: backend, changeOrigin: true }])),
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
