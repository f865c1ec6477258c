import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { WebhookEvent } from "../db/schema";
import type { Database } from "../env";
import type { EventData } from "../schemas/webhooks";

/** A change to a dashboard or widget, in the spec's webhook payload shape. */
export interface DomainEvent {
  event: WebhookEvent;
  organizationId: string;
  data: Record<string, unknown>;
  timestamp: string;
  /**
   * A condition, evaluated in the same batch right after the change, that is true only if the
   * change really applied (a guarded UPDATE can match no row). Without it the event always counts.
   */
  onlyIf?: SQL;
}

export type Statement = BatchItem<"sqlite">;

/** An event of the actor's organization, stamped with the change's time. */
export function domainEvent<E extends WebhookEvent>(
  event: E,
  actor: { organizationId: string },
  data: EventData<E>,
  timestamp: string,
): DomainEvent {
  return { event, organizationId: actor.organizationId, data, timestamp };
}

/**
 * Commits a change together with the events it causes. Services never call `db.batch` for a
 * dashboard/widget change directly: they pass the change's statements and events here, and the
 * publisher writes whatever the events need (webhook deliveries) in the same batch, so the
 * change and its events are committed or lost together.
 */
export interface EventPublisher {
  /**
   * Runs `statements` (plus the events' own writes) in one `db.batch`; returns the results of
   * `statements` in order. `before`: bookkeeping that goes first in the same batch and is no part
   * of the change (a dashboard count), so changes() after the change is still the change's own.
   */
  commit(db: Database, statements: [Statement, ...Statement[]], events: DomainEvent[], before?: Statement[]): Promise<unknown[]>;
}

/**
 * `onlyIf` for the events of a change made by one statement: true when that statement changed a
 * row. SQLite's changes() reports the statement that ran just before; the publisher writes a
 * change's events of one organization and condition in one statement right after the change
 * (and refuses anything else), so every event of the change sees the change's own count.
 */
export const changedARow = sql`changes() > 0`;

/** A publisher that records nothing: the change alone. */
export const noEvents: EventPublisher = {
  async commit(db, statements, _events, before = []) {
    return ((await db.batch([...before, ...statements] as [Statement, ...Statement[]])) as unknown[]).slice(before.length);
  },
};
