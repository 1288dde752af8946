/// <reference types="vitest" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies /v1 to a local API (API_URL, default http://127.0.0.1:8000), so the dev
// server is one origin too. The build in dist/ is what the API process and CloudFront serve.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", target: "es2020", sourcemap: false },
  server: {
    host: "127.0.0.1",
    proxy: { "/v1": process.env.API_URL ?? "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
