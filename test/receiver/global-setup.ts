// Runs in Node (vitest globalSetup), not in workerd: a real HTTP receiver on 127.0.0.1 that the
// Worker's queue consumer posts to. It verifies every delivery with the `standardwebhooks` npm
// package (independent of the project's signer) and records what it got. Tests drive it over
// HTTP (see test/receiver/client.ts): each test registers a sink with the secrets to verify
// against and the answers to give, then posts deliveries to /hooks/<sink>.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { TestProject } from "vitest/node";
import type { ReceivedDelivery, SinkBehaviour, SinkConfig } from "./types";

interface Sink {
  secrets: string[];
  script: SinkBehaviour[];
  fallback: SinkBehaviour;
  downUntil: number;
  down: SinkBehaviour;
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
      sinks.set(name, {
        secrets: config.secrets,
        script: [...(config.script ?? [])],
        fallback: config.fallback ?? { status: 200 },
        downUntil: config.downUntil ?? 0,
        down: config.down ?? { status: 503 },
        received: sinks.get(name)?.received ?? [],
      });
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
  const behaviour = Date.now() < sink.downUntil ? sink.down : (sink.script.shift() ?? sink.fallback);
  const answered = behaviour.reset ? 0 : behaviour.status;
  sink.received.push({ method: req.method ?? "", path: url.pathname, headers, body, verifiedBy, answered, receivedAt: Date.now() });

  if (behaviour.hangMs) await new Promise((resolve) => setTimeout(resolve, behaviour.hangMs));
  if (res.destroyed) return;
  if (behaviour.reset) {
    req.socket.destroy();
    return;
  }
  const extra: Record<string, string> = { "content-type": "text/plain" };
  if (behaviour.retryAfter !== undefined) extra["retry-after"] = String(behaviour.retryAfter);
  if (behaviour.location) extra.location = behaviour.location;
  res.writeHead(behaviour.status, extra);
  res.end(behaviour.body ?? `answered ${behaviour.status}`);
}

// Extra listeners serving the same sinks on their own ports, opened and closed on request, so a
// test can point a subscription at a port where nothing listens (connection refused) and bring
// the receiver "back" later: POST /_listeners reserves a closed port, PUT /_listeners/<port>
// starts listening on it, DELETE /_listeners/<port> stops again.
const listeners = new Map<number, Server>();

function serve(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const [, area, port] = url.pathname.split("/");
    const work = area === "_listeners" ? controlListener(req, res, port) : handle(req, res);
    work.catch((err) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
    });
  });
}

async function controlListener(req: IncomingMessage, res: ServerResponse, port: string | undefined) {
  await readBody(req);
  if (req.method === "POST") {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const reserved = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    return json(res, 200, { port: reserved });
  }
  const number = Number(port);
  if (req.method === "PUT") {
    const server = serve();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(number, "127.0.0.1", resolve));
    listeners.set(number, server);
    return json(res, 204, null);
  }
  const server = listeners.get(number);
  listeners.delete(number);
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return json(res, 204, null);
}

export default async function setup(project: TestProject) {
  const server = serve();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("receiverPort", (server.address() as AddressInfo).port);
  return async () => {
    for (const s of [server, ...listeners.values()]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    receiverPort: number;
  }
}
