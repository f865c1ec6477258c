import { Hono, type Context } from "hono";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { validate } from "../lib/validate";
import { openApiDocument } from "../openapi/document";
import { DOCS_FILES, docsFileParam, type DocsFile } from "../schemas/docs";

// The reference page runs its own scripts and styles and loads nothing from elsewhere; it
// fetches the document (and "Try it out" calls the API) on this origin only.
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const CACHE = "public, max-age=300";

/** A file of the page from the static assets (wrangler.toml [assets]), under the page's CSP. */
async function asset(c: Context<AppEnv>, file: "index.html" | DocsFile, type: string) {
  const res = await c.env.ASSETS.fetch(new URL(`/${file}`, c.req.url));
  if (!res.ok || !res.body) throw notFound("File");
  return c.body(res.body, 200, { "Content-Type": type, "Cache-Control": CACHE, "Content-Security-Policy": DOCS_CSP });
}

/** Mounted at /api: the OpenAPI document and the interactive reference that reads it. */
export const docsRoutes = new Hono<AppEnv>()
  .get("/openapi.json", (c) => c.json(openApiDocument(), 200, { "Cache-Control": CACHE }))
  .get("/docs", (c) => asset(c, "index.html", "text/html; charset=utf-8"))
  .get("/docs/:file", validate("param", docsFileParam), (c) => {
    const { file } = c.req.valid("param");
    return asset(c, file, DOCS_FILES[file]);
  });
