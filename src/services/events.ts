import type { BatchItem } from "drizzle-orm/batch";
import type { WebhookEvent } from "../db/schema";
import type { Database } from "../env";

/** A change to a dashboard or widget, in the spec's webhook payload shape. */
export interface DomainEvent {
  event: WebhookEvent;
  organizationId: string;
  data: Record<string, unknown>;
  timestamp: string;
}

export type Statement = BatchItem<"sqlite">;

/**
 * Commits a change together with the events it causes. Services never call `db.batch` for a
 * dashboard/widget change directly: they pass the change's statements and events here, and the
 * publisher writes whatever the events need (webhook deliveries) in the same batch, so the
 * change and its events are committed or lost together.
 */
export interface EventPublisher {
  /** Runs `statements` (plus the events' own writes) in one `db.batch`; returns the results of `statements` in order. */
  commit(db: Database, statements: [Statement, ...Statement[]], events: DomainEvent[]): Promise<unknown[]>;
}

/** A publisher that records nothing: the change alone. */
export const noEvents: EventPublisher = {
  async commit(db, statements) {
    return db.batch(statements);
  },
};
