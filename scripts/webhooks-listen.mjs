#!/usr/bin/env node
// A local webhook receiver for development, like `stripe listen`: it verifies each delivery's
// Standard Webhooks signature and timestamp (with the `standardwebhooks` package, 5-minute
// tolerance), prints the event, and answers 200 — or 401 when the signature does not verify.
//
//   npm run webhooks:listen -- --secret whsec_... [--secret whsec_old...] [--port 8790] [--status 500]
//
// Point a subscription at http://127.0.0.1:<port>/ (the Worker must run with
// ALLOW_PRIVATE_NETWORK_TARGETS=true, as `npm run dev` does). Pass --secret twice during a
// rotation to accept either key. --status makes it answer that code instead (to watch retries).
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";

const USAGE = "usage: npm run webhooks:listen -- --secret whsec_... [--secret ...] [--port 8790] [--host 127.0.0.1] [--status 200]";

let options;
try {
  options = parseArgs({
    options: {
      secret: { type: "string", multiple: true },
      port: { type: "string", default: "8790" },
      host: { type: "string", default: "127.0.0.1" },
      status: { type: "string", default: "200" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const secrets = options.secret ?? (process.env.EDGEBOARD_WEBHOOK_SECRET ? [process.env.EDGEBOARD_WEBHOOK_SECRET] : []);
if (secrets.length === 0 || secrets.some((s) => !s.startsWith("whsec_"))) {
  console.error(`--secret whsec_... is required (the secret shown when the subscription was created)\n${USAGE}`);
  process.exit(2);
}
const port = Number(options.port);
const answer = Number(options.status);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(answer) || answer < 200 || answer > 599) {
  console.error(USAGE);
  process.exit(2);
}
const verifiers = secrets.map((secret) => new Webhook(secret));

const useColor = process.stdout.isTTY;
const paint = (code, text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Verified with any of the secrets? Returns the parsed event, or the last error. */
function verify(body, headers) {
  let lastError;
  for (const verifier of verifiers) {
    try {
      return { event: verifier.verify(body, headers) };
    } catch (err) {
      lastError = err;
    }
  }
  return { error: lastError };
}

const server = createServer(async (req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "POST" }).end();
    return;
  }
  const body = await readBody(req);
  const headers = {};
  for (const [key, value] of Object.entries(req.headers)) if (typeof value === "string") headers[key] = value;
  const id = headers["webhook-id"] ?? "(no webhook-id)";
  const at = new Date().toISOString();
  const result = verify(body, headers);
  if (result.error) {
    console.log(`${paint(31, "✗ rejected")} ${at} ${id}: ${result.error.message}`);
    res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid signature" }));
    return;
  }
  const { event } = result;
  const signedAt = new Date(Number(headers["webhook-timestamp"]) * 1000).toISOString();
  console.log(`${paint(32, "✓ verified")} ${at} ${paint(1, event?.event ?? "(no event)")} id=${id} signed=${signedAt} → ${answer}`);
  console.log(JSON.stringify(event, null, 2));
  res.writeHead(answer, { "content-type": "application/json" }).end(JSON.stringify({ received: answer < 300 }));
});

server.listen(port, options.host, () => {
  const { port: actual } = server.address();
  console.log(`Listening for Edgeboard webhooks on http://${options.host}:${actual}/ (${secrets.length} secret${secrets.length > 1 ? "s" : ""}; Ctrl-C to stop)`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
