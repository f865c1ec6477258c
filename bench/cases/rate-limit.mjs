// The rate limiter's cost on the hot path: the same authenticated read (GET /api/users/me)
// against two Workers that differ only in whether the limiter runs. "On" counts every
// request in the caller's per-user Durable Object, with a quota too big to ever refuse, so
// both sides serve 200s and the difference is the limiter's work alone.
import { api, load, RATE_LIMITS_OFF, seedOrganization, startWorker, summarize } from "../harness.mjs";

const OFF = RATE_LIMITS_OFF;
const ON = { RATE_LIMIT_USER: "1000000000/60" };

export default {
  name: "rate-limit",
  title: "GET /api/users/me, rate limiter on vs off",
  target: "limiter on ≥ 0.85 × limiter off (req/s)",

  async run({ seconds, rounds, connections, log }) {
    const sides = [
      { label: "limiter off", worker: await startWorker("rate-limit-off", OFF) },
      { label: "limiter on", worker: await startWorker("rate-limit-on", ON) },
    ];
    try {
      for (const side of sides) {
        side.token = (await seedOrganization(side.worker)).token;
        const me = await fetch(`${side.worker.url}/api/users/me`, { headers: { authorization: `Bearer ${side.token}` } });
        side.headers = me.headers.get("ratelimit") ?? "(none)";
        log(`${side.label}: RateLimit header on a sample request: ${side.headers}`);
        await api(side.worker, "GET", "/api/users/me", { token: side.token });
        // Warm-up (JIT, D1 page cache, Durable Object start) is not measured.
        await load(side.worker, { path: "/api/users/me", headers: { authorization: `Bearer ${side.token}` }, seconds: 2, connections });
        side.rounds = [];
      }
      // Alternate short rounds (and which side goes first) so drift on a shared machine hits
      // both sides alike.
      for (let round = 0; round < rounds; round++) {
        for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
          log(`round ${round + 1}/${rounds}: ${side.label} for ${seconds / rounds} s`);
          side.rounds.push(
            await load(side.worker, {
              path: "/api/users/me",
              headers: { authorization: `Bearer ${side.token}` },
              seconds: seconds / rounds,
              connections,
            }),
          );
        }
      }
    } finally {
      await Promise.all(sides.map((s) => s.worker.stop()));
    }

    const [off, on] = sides.map((s) => ({ label: s.label, ...summarize(s.rounds) }));
    for (const side of [off, on]) {
      const bad = Object.entries(side.statuses).filter(([code]) => code !== "200");
      if (bad.length > 0 || side.errors > 0) {
        throw new Error(`${side.label}: expected only 200s, got ${JSON.stringify(side.statuses)} and ${side.errors} errors`);
      }
    }
    const ratio = on.rps / off.rps;
    return {
      rows: [off, on],
      verdict: `on/off throughput ratio ${ratio.toFixed(2)} (target ≥ 0.85: ${ratio >= 0.85 ? "met" : "NOT met"})`,
    };
  },
};
