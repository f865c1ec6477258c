import { createApp } from "./app";
import { handleQueueBatch } from "./queues/webhook-consumer";
import { sweepPendingDeliveries } from "./queues/webhook-sweeper";

// Durable Object classes must be exported from the Worker entry for wrangler to bind them.
export { RateLimiter } from "./durable-objects/rate-limiter";

const app = createApp();

export default {
  fetch: app.fetch,

  // Both queues of wrangler.toml are consumed here: webhook deliveries, and their dead letters.
  async queue(batch, env) {
    await handleQueueBatch(batch, env);
  },

  // [triggers] crons: the webhook outbox sweeper (awaited, so a failed run shows as failed).
  async scheduled(controller, env) {
    await sweepPendingDeliveries(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env, unknown>;
