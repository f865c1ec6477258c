import { and, count, eq, sql, type SQL } from "drizzle-orm";
import { dataSources, widgets, type DataSource, type DataSourceType, type SslMode } from "../db/schema";
import type { Actor, Database } from "../env";
import { decryptSecret, encryptSecret } from "../lib/crypto";
import { conflict, forbidden, notFound, validationError } from "../lib/errors";
import { offsetOf, pageOf, selectPage } from "../lib/pagination";
import { containsText, orderWithTieBreak } from "../lib/sql";
import { nowIso } from "../lib/time";
import { effectiveSslMode, PASSWORD_RESEND_MESSAGE, requiresPasswordResend } from "../schemas/data-source-connection";
import {
  type CreateDataSourceInput,
  type DataSourceListItem,
  type DataSourceResponse,
  type ListDataSourcesQuery,
  type SampleDataSourceDetail,
  type UpdateDataSourceInput,
} from "../schemas/data-sources";
import type { Page } from "../lib/pagination";
import { isSampleDataSource, sampleDataSourceResponse } from "./sample-source";

/** Where a source connects, without its password; `ssl` is the mode a connection will use. */
const connectionOf = (row: DataSource) => ({
  host: row.host,
  port: row.port,
  database: row.database,
  username: row.username,
  ssl: effectiveSslMode(row.host, row.ssl),
});

/**
 * The one place a data source becomes a response. The password is write-only: only whether
 * one is stored comes out, never the ciphertext or the plaintext.
 */
export function toDataSourceResponse(row: DataSource): DataSourceResponse {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    connection: {
      ...connectionOf(row),
      hasPassword: row.passwordEncrypted !== null,
    },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * List items have the spec's shape, without `connection`: every member may list sources (to pick
 * one for a widget), but host and user names are for admins, who read them with GET /:id.
 */
export function toDataSourceListItem(row: DataSource): DataSourceListItem {
  const { connection: _connection, ...item } = toDataSourceResponse(row);
  return item;
}

const inOrg = (actor: Actor, id: string) => and(eq(dataSources.id, id), eq(dataSources.organizationId, actor.organizationId));

/** The built-in sample is shared by every organization and belongs to none: nobody edits or deletes it. */
function assertNotSample(id: string): void {
  if (isSampleDataSource(id)) throw forbidden("The built-in sample data source is read-only: it cannot be changed or deleted");
}

/** GET /api/data-sources/:id for the sample: no connection to show. */
export function sampleDataSourceDetail(): SampleDataSourceDetail {
  const { id, name, type, createdAt, updatedAt } = sampleDataSourceResponse();
  return { id, name, type, connection: null, createdAt, updatedAt };
}

export async function getDataSource(db: Database, actor: Actor, id: string): Promise<DataSource> {
  const row = await db.select().from(dataSources).where(inOrg(actor, id)).get();
  if (!row) throw notFound("Data source");
  return row;
}

/** Rejects a widget's `dataSourceId` that is not a source of the caller's organization (or the sample). */
export async function assertUsableDataSource(db: Database, actor: Actor, id: string): Promise<void> {
  if (isSampleDataSource(id)) return;
  const row = await db.select({ id: dataSources.id }).from(dataSources).where(inOrg(actor, id)).get();
  if (!row) throw validationError("dataSourceId", "No data source with this id in your organization");
}

const DATA_SOURCE_SORT = {
  name: sql`${dataSources.name} COLLATE NOCASE`,
  createdAt: dataSources.createdAt,
  updatedAt: dataSources.updatedAt,
} as const;

/** The sample source's list item, if the list's filters let it through. */
function sampleListItem(query: ListDataSourcesQuery): DataSourceListItem | null {
  const sample = sampleDataSourceResponse();
  if (query.type && query.type !== sample.type) return null;
  if (query.q && !sample.name.toLowerCase().includes(query.q.toLowerCase())) return null;
  const { id, name, type, createdAt, updatedAt } = sample;
  return { id, name, type, createdAt, updatedAt };
}

/**
 * The organization's sources, with the built-in sample first on the first page whatever the
 * sort (it counts in `total`, so later pages shift by one).
 */
export async function listDataSources(db: Database, actor: Actor, query: ListDataSourcesQuery): Promise<Page<DataSourceListItem>> {
  const sample = sampleListItem(query);
  const skip = offsetOf(query.page, query.limit);
  const samplesOnPage = sample && skip === 0 ? 1 : 0;
  const dbOffset = sample ? Math.max(0, skip - 1) : skip;
  const filters: (SQL | undefined)[] = [
    eq(dataSources.organizationId, actor.organizationId),
    query.type === "sample" ? sql`0` : query.type ? eq(dataSources.type, query.type) : undefined,
    query.q ? containsText(dataSources.name, query.q) : undefined,
  ];
  const where = and(...filters);
  const order = orderWithTieBreak(DATA_SOURCE_SORT[query.sort.field], dataSources.id, query.sort.direction);
  const { rows, total } = await selectPage(db, dataSources, where, order, { limit: query.limit - samplesOnPage, offset: dbOffset });
  const items = rows.map(toDataSourceListItem);
  return pageOf(samplesOnPage ? [sample!, ...items] : items, total + (sample ? 1 : 0), query.page, query.limit);
}

async function encryptedPassword(password: string | null, key: Uint8Array) {
  if (password === null) return { passwordEncrypted: null, passwordKeyVersion: null };
  const sealed = await encryptSecret(password, key);
  return { passwordEncrypted: sealed.ciphertext, passwordKeyVersion: sealed.keyVersion };
}

export async function createDataSource(
  db: Database,
  actor: Actor,
  input: CreateDataSourceInput,
  key: Uint8Array,
): Promise<DataSource> {
  const now = nowIso();
  const { password, ...connection } = input.connection;
  const row: DataSource = {
    id: crypto.randomUUID(),
    organizationId: actor.organizationId,
    name: input.name,
    type: input.type,
    ...connection,
    ssl: connection.ssl ?? null,
    ...(await encryptedPassword(password, key)),
    createdBy: actor.userId,
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(dataSources).values(row);
  return row;
}

export async function updateDataSource(
  db: Database,
  actor: Actor,
  id: string,
  input: UpdateDataSourceInput,
  key: Uint8Array,
): Promise<DataSource> {
  assertNotSample(id);
  const before = await getDataSource(db, actor, id);
  const { password, ...connection } = input.connection ?? {};
  // A stored password is never replayed to a destination (or protocol) the user did not type it for.
  const movesCredentials =
    requiresPasswordResend(before, { ...connection, ...(password !== undefined && password !== null && { password }) }) ||
    (input.type !== undefined && input.type !== before.type && password === undefined);
  if (movesCredentials && before.passwordEncrypted !== null && password === undefined) {
    throw validationError("connection.password", PASSWORD_RESEND_MESSAGE);
  }
  const changes: Partial<DataSource> = {
    ...(input.name !== undefined && { name: input.name }),
    ...(input.type !== undefined && { type: input.type }),
    ...Object.fromEntries(Object.entries(connection).filter(([, v]) => v !== undefined)),
    // Omitted: keep the stored password. null: remove it. A string: replace it.
    ...(password !== undefined && (await encryptedPassword(password, key))),
    updatedAt: nowIso(),
  };
  const updated = await db.update(dataSources).set(changes).where(inOrg(actor, id)).returning().get();
  if (!updated) throw notFound("Data source");
  return updated;
}

/** Deletes a source no widget uses; the check is part of the DELETE so a racing widget cannot slip in between. */
export async function deleteDataSource(db: Database, actor: Actor, id: string): Promise<void> {
  assertNotSample(id);
  const deleted = await db
    .delete(dataSources)
    .where(
      and(
        inOrg(actor, id),
        sql`NOT EXISTS (SELECT 1 FROM ${widgets} WHERE ${widgets.dataSourceId} = ${dataSources.id})`,
      ),
    )
    .returning({ id: dataSources.id })
    .get();
  if (deleted) return;
  await getDataSource(db, actor, id);
  const [usage] = await db
    .select({ widgets: count() })
    .from(widgets)
    .where(and(eq(widgets.dataSourceId, id), eq(widgets.organizationId, actor.organizationId)));
  throw conflict(`This data source is used by ${usage?.widgets ?? 0} widget(s); detach or delete them first`);
}

/** A data source with its decrypted connection, for opening a live connection (server side only). */
export interface DataSourceWithSecret {
  id: string;
  organizationId: string;
  name: string;
  type: DataSourceType;
  connection: {
    host: string;
    port: number;
    database: string;
    username: string;
    password: string | null;
    ssl: SslMode;
  };
}

export async function getDataSourceWithSecret(
  db: Database,
  actor: Actor,
  id: string,
  key: Uint8Array,
): Promise<DataSourceWithSecret> {
  const row = await getDataSource(db, actor, id);
  const password =
    row.passwordEncrypted === null || row.passwordKeyVersion === null
      ? null
      : await decryptSecret({ ciphertext: row.passwordEncrypted, keyVersion: row.passwordKeyVersion }, key);
  return {
    id: row.id,
    organizationId: row.organizationId,
    name: row.name,
    type: row.type,
    connection: { ...connectionOf(row), password },
  };
}
