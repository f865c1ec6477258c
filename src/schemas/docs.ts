import { z } from "zod";

/** The files of the reference page the Worker serves (scripts/build-docs-assets.mjs lays them out), with their types. */
export const DOCS_FILES = {
  "swagger-ui-bundle.js": "text/javascript",
  "swagger-ui.css": "text/css",
  "favicon-32x32.png": "image/png",
  "docs.js": "text/javascript",
  "docs.css": "text/css",
} as const;
export type DocsFile = keyof typeof DOCS_FILES;

export const docsFileParam = z.object({
  file: z.enum(Object.keys(DOCS_FILES) as [DocsFile, ...DocsFile[]]).describe("A file of the reference page"),
});
