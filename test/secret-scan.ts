// The secret scan: no response the suite sees (and no log line the Worker writes during the
// suite) contains a password hash, a refresh token outside the response that issued it, a
// password a client sent, a webhook secret outside the response that issued it, or a stored
// hash/ciphertext column. Registered for every `api()` response in test/response-checks.ts;
// test/setup.ts feeds it the Worker's console and runs the stored-value pass after each test.
import { env } from "cloudflare:test";
import { getTableColumns } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { schemaTables } from "./db-snapshot";
import type { Exchange } from "./response-checks";

// src/lib/crypto.ts stores `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`.
const PASSWORD_HASH = /pbkdf2-sha256\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+/;
// src/lib/webhook-signature.ts: `whsec_` + base64 of 32 bytes.
const WEBHOOK_SECRET = /whsec_[A-Za-z0-9+/]{40,}={0,2}/g;

/** Stored columns no response may name: every hash and ciphertext column in src/db/schema.ts. */
const SECRET_COLUMN = /hash|encrypted/i;
export const SECRET_COLUMNS = schemaTables().flatMap((table) =>
  Object.entries(getTableColumns(table))
    .filter(([key]) => SECRET_COLUMN.test(key))
    .map(([key, column]) => ({ table: getTableConfig(table).name, key, column: column.name })),
);
const SECRET_KEYS = new Set(SECRET_COLUMNS.flatMap(({ key, column }) => [key, column]));

// What the suite has been given or has sent so far (this test file).
const refreshTokens = new Set<string>();
const webhookSecrets = new Set<string>();
const passwords = new Set<string>();
// Strings the suite also sent as ordinary values (a name, a description, a search): a password
// that is one of them (the injection suite sends one hostile string everywhere) can't be told
// apart from that value coming back, so it isn't looked for.
const publicValues = new Set<string>();

const PASSWORD_KEYS = new Set(["password", "currentPassword", "newPassword"]);
function rememberPublicValues(body: unknown): void {
  // Iterative: the fuzz sends bodies nested far deeper than the stack goes.
  const stack = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === "string") publicValues.add(value);
    else if (Array.isArray(value)) stack.push(...value);
    else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) if (!PASSWORD_KEYS.has(key)) stack.push(item);
    }
  }
}
// This test's responses, for the stored-value pass (cleared after each test).
const responseTexts: { label: string; text: string }[] = [];

// The only responses that carry a refresh token or a webhook secret (README, docs/webhooks.md).
const ISSUES_REFRESH_TOKEN = /^\/api\/auth\/(register|login|refresh-token)$/;
const ISSUES_WEBHOOK_SECRET = (method: string, path: string) =>
  method === "POST" && /^\/api\/webhooks(\/[^/]+\/rotate-secret)?$/.test(path);

const bare = (path: string) => path.split("?")[0]!;

/**
 * A password worth looking for: 8 characters or more and not a plain word (a password like
 * "password" would be "found" in every `connection.password` error detail).
 */
function rememberPassword(value: unknown): void {
  if (typeof value === "string" && value.length >= 8 && !/^[a-z]+$/i.test(value)) passwords.add(value);
}

function rememberSentSecrets(path: string, body: unknown): void {
  if (typeof body !== "object" || body === null) return;
  rememberPublicValues(body);
  const b = body as Record<string, unknown>;
  if (path.startsWith("/api/data-sources")) {
    const connection = b.connection as Record<string, unknown> | undefined;
    rememberPassword(connection?.password);
  }
  if (/^\/api\/(auth\/(register|login)|users(\/me\/password)?)$/.test(path)) {
    rememberPassword(b.password);
    rememberPassword(b.currentPassword);
    rememberPassword(b.newPassword);
  }
  if (/^\/api\/auth\/(refresh-token|logout)$/.test(path) && typeof b.refreshToken === "string" && b.refreshToken.length >= 32) {
    // A token the suite got some other way (e.g. from SELF.fetch) is still one to look for.
    refreshTokens.add(b.refreshToken);
  }
}

function secretKeysIn(body: unknown): string[] {
  // Iterative: responses echo bodies nested far deeper than the stack goes.
  const found: string[] = [];
  const stack: [unknown, string][] = [[body, ""]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    // Paths stop growing past a point: a 100,000-deep body would otherwise build them quadratically.
    const at = (step: string) => (path.length > 200 ? path : `${path}${step}`);
    if (Array.isArray(value)) value.forEach((item, i) => stack.push([item, at(`[${i}]`)]));
    else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (SECRET_KEYS.has(key)) found.push(at(`.${key}`));
        stack.push([item, at(`.${key}`)]);
      }
    }
  }
  return found;
}

/** The kinds of secret `text` contains, `allowed` excepted (the one this response issues). */
function secretsIn(text: string, allowed: { refreshToken?: string; webhookSecret?: string } = {}): string[] {
  const found: string[] = [];
  if (PASSWORD_HASH.test(text)) found.push("a password hash");
  for (const token of refreshTokens) if (token !== allowed.refreshToken && text.includes(token)) found.push("a refresh token");
  for (const secret of text.match(WEBHOOK_SECRET) ?? []) {
    if (secret !== allowed.webhookSecret) found.push("a webhook secret");
  }
  // The key bytes without their prefix are as good as the secret.
  for (const secret of webhookSecrets) {
    if (secret !== allowed.webhookSecret && text.includes(secret.slice("whsec_".length))) found.push("a webhook secret");
  }
  for (const password of passwords) {
    if (!publicValues.has(password) && text.includes(password)) found.push("a password sent by a client");
  }
  return found;
}

/** The response check: every `api()` response, in every test file. */
export function secretScan({ method, path: fullPath, requestBody, response, text }: Exchange): void {
  const path = bare(fullPath);
  rememberSentSecrets(path, requestBody);
  const body = response.body as Record<string, unknown> | undefined;
  const ok = response.status >= 200 && response.status < 300;

  const allowed: { refreshToken?: string; webhookSecret?: string } = {};
  if (ok && ISSUES_REFRESH_TOKEN.test(path) && typeof body?.refreshToken === "string") {
    allowed.refreshToken = body.refreshToken;
  }
  if (ok && ISSUES_WEBHOOK_SECRET(method, path) && typeof body?.secret === "string") {
    allowed.webhookSecret = body.secret;
  }

  const problems = secretsIn(text, allowed);
  const keys = secretKeysIn(body);
  if (keys.length > 0) problems.push(`stored secret columns (${keys.join(", ")})`);
  if (!allowed.refreshToken && typeof body === "object" && body !== null && "refreshToken" in body) {
    problems.push("a refreshToken field outside register/login/refresh-token");
  }
  if (problems.length > 0) {
    throw new Error(`Secret scan: the response to ${method} ${fullPath} (${response.status}) contains ${[...new Set(problems)].join("; ")}`);
  }

  // Remembered only after the check, so the issuing response itself passes.
  if (allowed.refreshToken) refreshTokens.add(allowed.refreshToken);
  if (allowed.webhookSecret) webhookSecrets.add(allowed.webhookSecret);
  responseTexts.push({ label: `${method} ${fullPath} (${response.status})`, text });
  checkLogLines();
}

// ---- Logs: the Worker runs in the tests' isolate, so its console is this console.

const logLines: string[] = [];
let scannedLogLines = 0;

// The console outlives a test file's modules when files share an isolate: wrap it once, and
// send its lines to whichever file's scan is current.
const LOG_SINK = Symbol.for("edgeboard.test.logSink");
type SinkHolder = { [LOG_SINK]?: (line: string) => void; [LOG_SINK_WRAPPED]?: true };
const LOG_SINK_WRAPPED = Symbol.for("edgeboard.test.logSinkWrapped");

/** Records what the Worker writes to the console (test/setup.ts installs this once). */
export function captureConsole(): void {
  const holder = globalThis as SinkHolder;
  holder[LOG_SINK] = (line) => logLines.push(line);
  if (holder[LOG_SINK_WRAPPED]) return;
  holder[LOG_SINK_WRAPPED] = true;
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      holder[LOG_SINK]?.(args.map((a) => (typeof a === "string" ? a : safeStringify(a))).join(" "));
      original(...args);
    };
  }
}

function safeStringify(value: unknown): string {
  try {
    return value instanceof Error ? `${value.message}\n${value.stack ?? ""}` : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function checkLogLines(): void {
  for (; scannedLogLines < logLines.length; scannedLogLines++) {
    const problems = secretsIn(logLines[scannedLogLines]!);
    if (problems.length > 0) {
      throw new Error(`Secret scan: a log line contains ${[...new Set(problems)].join("; ")}: ${logLines[scannedLogLines]!.slice(0, 200)}`);
    }
  }
}

// ---- Stored values: after each test, every hash and ciphertext actually in D1 is looked for in
// the responses and log lines of that test (the shape checks above cannot know a ciphertext).

async function storedSecretValues(): Promise<string[]> {
  const values: string[] = [];
  for (const { table, column } of SECRET_COLUMNS) {
    let rows: Record<string, unknown>[];
    try {
      rows = (await env.DB.prepare(`SELECT ${column} AS v FROM ${table} WHERE ${column} IS NOT NULL`).all()).results;
    } catch {
      // A test that took D1 away (or dropped a table) leaves nothing here to compare.
      continue;
    }
    for (const { v } of rows) {
      if (typeof v !== "string") continue;
      // A password hash is looked for whole and by its salt and hash parts.
      for (const part of [v, ...v.split("$")]) if (part.length >= 16) values.push(part);
    }
  }
  return [...new Set(values)];
}

export async function scanStoredSecrets(): Promise<void> {
  try {
    checkLogLines();
    if (responseTexts.length === 0 && logLines.length === 0) return;
    const values = await storedSecretValues();
    for (const { label, text } of responseTexts) {
      for (const value of values) {
        if (text.includes(value)) throw new Error(`Secret scan: the response to ${label} contains a stored hash or ciphertext`);
      }
    }
    for (const line of logLines) {
      for (const value of values) {
        if (line.includes(value)) throw new Error(`Secret scan: a log line contains a stored hash or ciphertext: ${line.slice(0, 200)}`);
      }
    }
  } finally {
    responseTexts.length = 0;
    logLines.length = 0;
    scannedLogLines = 0;
  }
}
