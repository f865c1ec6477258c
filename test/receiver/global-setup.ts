// Runs in Node (vitest globalSetup), not in workerd: a real HTTP receiver on 127.0.0.1 that the
// Worker's queue consumer posts to. It verifies every delivery with the `standardwebhooks` npm
// package (independent of the project's signer) and records what it got. Tests drive it over
// HTTP (see test/receiver/client.ts): each test registers a sink with the secrets to verify
// against and the answers to give, then posts deliveries to /hooks/<sink>.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { TestProject } from "vitest/node";
import type { ReceivedDelivery, SinkBehaviour, SinkConfig } from "./types";

interface Sink {
  secrets: string[];
  script: SinkBehaviour[];
  fallback: SinkBehaviour;
  received: ReceivedDelivery[];
}

const sinks = new Map<string, Sink>();

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://receiver");
  const [, area, name] = url.pathname.split("/");
  const body = await readBody(req);

  if (area === "_control" && name) {
    if (req.method === "PUT") {
      const config = JSON.parse(body) as SinkConfig;
      sinks.set(name, { secrets: config.secrets, script: [...(config.script ?? [])], fallback: config.fallback ?? { status: 200 }, received: sinks.get(name)?.received ?? [] });
      return json(res, 204, null);
    }
    return json(res, 200, sinks.get(name)?.received ?? []);
  }

  const sink = area === "hooks" && name ? sinks.get(name) : undefined;
  if (!sink) return json(res, 404, { error: "no such sink" });

  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (typeof value === "string") headers[key] = value;
  const verifiedBy = sink.secrets.map((secret) => {
    try {
      new Webhook(secret).verify(body, headers);
      return true;
    } catch {
      return false;
    }
  });
  const behaviour = sink.script.shift() ?? sink.fallback;
  sink.received.push({ method: req.method ?? "", path: url.pathname, headers, body, verifiedBy, answered: behaviour.status, receivedAt: Date.now() });

  if (behaviour.hangMs) await new Promise((resolve) => setTimeout(resolve, behaviour.hangMs));
  if (res.destroyed) return;
  const extra: Record<string, string> = { "content-type": "text/plain" };
  if (behaviour.retryAfter !== undefined) extra["retry-after"] = String(behaviour.retryAfter);
  if (behaviour.location) extra.location = behaviour.location;
  res.writeHead(behaviour.status, extra);
  res.end(behaviour.body ?? `answered ${behaviour.status}`);
}

export default async function setup(project: TestProject) {
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("receiverPort", (server.address() as AddressInfo).port);
  return async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    receiverPort: number;
  }
}
