// Entity tags for dashboards. A dashboard's tag starts with its version: `"7"` for the dashboard
// itself (POST/PATCH answers) and `"7.<digest>"` for GET /:id, whose body also carries widgets
// and their live data, so the digest of that body is what `If-None-Match` compares. Writes only
// care which version the client saw: `If-Match` compares the part before the dot.
import type { VersionPrecondition } from "../services/dashboards";

export const versionEtag = (version: number) => `"${version}"`;

export async function representationEtag(version: number, body: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  const hex = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `"${version}.${hex}"`;
}

/** The entity tags in an If-Match / If-None-Match value, weak prefixes dropped; "*" as is. */
function entityTags(header: string): string[] {
  return header
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .filter(Boolean);
}

/** If-Match → the dashboard versions it names. A tag that isn't ours names no version (412). */
export function parseIfMatch(header: string | undefined): VersionPrecondition {
  if (header === undefined) return undefined;
  const tags = entityTags(header);
  if (tags.includes("*")) return { any: true };
  const versions = tags.flatMap((tag) => {
    const match = /^"(\d{1,15})(?:\.[0-9a-f]+)?"$/.exec(tag);
    return match ? [Number(match[1])] : [];
  });
  return { versions };
}

/** If-None-Match on a GET: true when the client already has this representation (304). */
export function clientHasEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const tags = entityTags(header);
  return tags.includes("*") || tags.includes(etag);
}
