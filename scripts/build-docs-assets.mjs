#!/usr/bin/env node
// Lays out the files GET /api/docs serves (wrangler.toml [assets], binding ASSETS): the page of
// our own in docs-page/, and swagger-ui's bundle and styles copied from node_modules, so the page
// works without a CDN. Output: dist/docs-assets/ (gitignored). wrangler.toml's [build] runs it
// before every `wrangler dev` / `wrangler deploy` (so `npm run dev`, `npm run deploy` and the
// benchmark), and vitest.config.ts, npm's pretest and `npm run docs:check` run it too; it is quick and
// idempotent (it overwrites, never deletes: a running wrangler dev may be serving the folder). The Worker serves the files it names in src/schemas/docs.ts.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DOCS_ASSETS_DIR = path.join(ROOT, "dist", "docs-assets");

// From swagger-ui-dist: the standalone bundle (React and all), its styles, the icon, and the
// Apache-2.0 license and notice that must travel with it.
const SWAGGER_UI_FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"];

export function buildDocsAssets() {
  const swaggerUi = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  mkdirSync(DOCS_ASSETS_DIR, { recursive: true });
  for (const file of SWAGGER_UI_FILES) copyFileSync(path.join(swaggerUi, file), path.join(DOCS_ASSETS_DIR, file));
  const page = path.join(ROOT, "docs-page");
  for (const file of readdirSync(page)) copyFileSync(path.join(page, file), path.join(DOCS_ASSETS_DIR, file));
  return DOCS_ASSETS_DIR;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  console.log(`docs assets in ${path.relative(process.cwd(), buildDocsAssets()) || "."}`);
}
