// The local receiver the webhooks benchmark and the soak deliver to: it verifies each delivery's
// Standard Webhooks signature with `state.verifier` (set once the subscription's secret is
// known), fails a share of each webhook-id's first attempt so retries are part of the traffic,
// and hands every accepted event to `onAccepted`. It counts into the caller's `state`:
// requests, invalidSignatures, firstAttemptFailures.
import { createServer } from "node:http";

export function startVerifyingReceiver({ port = 0, failRate, state, onAccepted }) {
  const seen = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      state.requests++;
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([, v]) => typeof v === "string"));
      let event;
      try {
        event = state.verifier.verify(body, headers);
      } catch {
        state.invalidSignatures++;
        res.writeHead(401).end();
        return;
      }
      const id = headers["webhook-id"];
      if (!seen.has(id)) {
        seen.add(id);
        if (Math.random() < failRate) {
          state.firstAttemptFailures++;
          res.writeHead(500).end("failing on purpose");
          return;
        }
      }
      onAccepted(event, id);
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve({ server, port: server.address().port }));
  });
}
