// Runs in Node before the workerd tests (which cannot listen on sockets themselves):
// - a "hung" database server that accepts TCP connections and never says a word, with a small
//   HTTP status endpoint reporting how many of its connections are still open, so tests can
//   check a timed-out test really closed its socket;
// - a port on 127.0.0.1 with nothing listening on it.
import http from "node:http";
import net from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    hungPort: number;
    hungStatusPort: number;
    closedPort: number;
  }
}

const listen = (server: net.Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));

export default async function setup(project: TestProject) {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const hung = net.createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on("error", () => {});
    // Read and drop what the client sends, so its FIN is seen (Node reports `end` only
    // after buffered data is consumed) and a closed connection counts as closed.
    socket.resume();
    socket.on("close", () => open.delete(socket));
  });
  const status = http.createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ open: open.size, accepted }));
  });
  const spare = net.createServer();
  const [hungPort, hungStatusPort, closedPort] = [await listen(hung), await listen(status), await listen(spare)];
  await new Promise<void>((resolve) => spare.close(() => resolve()));

  project.provide("hungPort", hungPort);
  project.provide("hungStatusPort", hungStatusPort);
  project.provide("closedPort", closedPort);

  return async () => {
    for (const socket of open) socket.destroy();
    await Promise.all([hung, status].map((server) => new Promise((resolve) => server.close(resolve))));
  };
}
