import { createApp } from "./app";

// Durable Object classes must be exported from the Worker entry for wrangler to bind them.
export { RateLimiter } from "./durable-objects/rate-limiter";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
