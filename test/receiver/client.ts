// The tests' side of the Node receiver (test/receiver/global-setup.ts), reached over HTTP.
import { inject } from "vitest";
import type { ReceivedDelivery, SinkConfig } from "./types";

let counter = 0;

export interface Sink {
  /** The URL to subscribe. */
  url: string;
  received(): Promise<ReceivedDelivery[]>;
  /** Polls until `count` deliveries have arrived (or fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  configure(config: SinkConfig): Promise<void>;
}

export function receiverBase(): string {
  return `http://127.0.0.1:${inject("receiverPort")}`;
}

export async function createSink(config: SinkConfig): Promise<Sink> {
  const name = `sink-${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const base = receiverBase();
  const configure = async (c: SinkConfig) => {
    const res = await fetch(`${base}/_control/${name}`, { method: "PUT", body: JSON.stringify(c) });
    if (res.status !== 204) throw new Error(`receiver refused sink config: ${res.status}`);
  };
  await configure(config);
  const received = async () => (await (await fetch(`${base}/_control/${name}`)).json()) as ReceivedDelivery[];
  return {
    url: `${base}/hooks/${name}`,
    received,
    configure,
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = await received();
        if (got.length >= count) return got;
        if (Date.now() > deadline) throw new Error(`receiver got ${got.length} deliveries, expected ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/**
 * A port on 127.0.0.1 where nothing listens yet (connection refused), and the switch that starts
 * (or stops) the receiver on it, serving the same sinks: a receiver that is down, then back.
 */
export async function lateListener(): Promise<{ port: number; url(sink: Sink): string; up(): Promise<void>; down(): Promise<void> }> {
  const base = receiverBase();
  const { port } = (await (await fetch(`${base}/_listeners`, { method: "POST" })).json()) as { port: number };
  const control = async (method: string) => {
    const res = await fetch(`${base}/_listeners/${port}`, { method });
    if (res.status !== 204) throw new Error(`receiver listener ${method} failed: ${res.status}`);
  };
  return {
    port,
    url: (sink) => sink.url.replace(/:\d+\//, `:${port}/`),
    up: () => control("PUT"),
    down: () => control("DELETE"),
  };
}
