import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Timestamps are ISO 8601 UTC strings with milliseconds (`Date#toISOString`): they sort
// lexicographically in time order and are returned to clients unchanged.
const timestamps = {
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
};

export const ROLES = ["admin", "editor", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const organizations = sqliteTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  // How many dashboards the organization has: kept by the same batch that creates or deletes
  // one (services/dashboards.ts), so the list's total is one row read, not a count of them all.
  dashboardCount: integer("dashboard_count").notNull().default(0),
  ...timestamps,
});

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    // Stored trimmed and lower-cased, so the unique index is case-insensitive.
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    firstName: text("first_name").notNull(),
    lastName: text("last_name").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex("users_email_unique").on(t.email), index("users_org_idx").on(t.organizationId, t.createdAt)],
);

export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // All tokens descended from one login share a family; reuse of a rotated token revokes it.
    familyId: text("family_id").notNull(),
    // SHA-256 of the opaque token; the token itself is never stored.
    tokenHash: text("token_hash").notNull(),
    expiresAt: text("expires_at").notNull(),
    createdAt: text("created_at").notNull(),
    rotatedAt: text("rotated_at"),
    revokedAt: text("revoked_at"),
  },
  (t) => [
    uniqueIndex("refresh_tokens_hash_unique").on(t.tokenHash),
    index("refresh_tokens_family_idx").on(t.familyId),
    index("refresh_tokens_user_idx").on(t.userId),
  ],
);

export const DATA_SOURCE_TYPES = ["postgresql", "mysql"] as const;
export type DataSourceType = (typeof DATA_SOURCE_TYPES)[number];
export const SSL_MODES = ["disable", "prefer", "require"] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const dataSources = sqliteTable(
  "data_sources",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    type: text("type", { enum: DATA_SOURCE_TYPES }).notNull(),
    host: text("host").notNull(),
    port: integer("port").notNull(),
    database: text("database").notNull(),
    username: text("username").notNull(),
    // AES-256-GCM ciphertext (base64 of iv || ciphertext) and the version of the key that made it.
    passwordEncrypted: text("password_encrypted"),
    passwordKeyVersion: integer("password_key_version"),
    ssl: text("ssl", { enum: SSL_MODES }),
    createdBy: text("created_by"),
    ...timestamps,
  },
  (t) => [index("data_sources_org_idx").on(t.organizationId, t.createdAt)],
);

export const dashboards = sqliteTable(
  "dashboards",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    isPublic: integer("is_public", { mode: "boolean" }).notNull().default(false),
    layout: text("layout", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    // Bumped by every PATCH: the ETag's version, so a PATCH with a stale If-Match answers 412.
    version: integer("version").notNull().default(1),
    createdBy: text("created_by"),
    updatedBy: text("updated_by"),
    ...timestamps,
  },
  // One index per list order (GET /api/dashboards ?sort=), each ending in the id tie-break, so a
  // page is read in order from the index and stops after `limit` rows, whatever the organization's
  // size; the is_public one also answers ?isPublic= (its page by creation time, its count).
  (t) => [
    index("dashboards_org_created_idx").on(t.organizationId, t.createdAt, t.id),
    index("dashboards_org_updated_idx").on(t.organizationId, t.updatedAt, t.id),
    index("dashboards_org_name_idx").on(t.organizationId, sql`${t.name} COLLATE NOCASE`, t.id),
    index("dashboards_org_public_idx").on(t.organizationId, t.isPublic, t.createdAt, t.id),
  ],
);

export const WIDGET_TYPES = [
  "line_chart",
  "bar_chart",
  "area_chart",
  "pie_chart",
  "scatter_chart",
  "table",
  "metric",
  "text",
] as const;
export type WidgetType = (typeof WIDGET_TYPES)[number];

export const widgets = sqliteTable(
  "widgets",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    dashboardId: text("dashboard_id")
      .notNull()
      .references(() => dashboards.id, { onDelete: "cascade" }),
    // Not a foreign key: the built-in sample source has no row here. The service checks
    // that the id belongs to the caller's organization and refuses to delete a source in use.
    dataSourceId: text("data_source_id"),
    type: text("type", { enum: WIDGET_TYPES }).notNull(),
    title: text("title").notNull(),
    config: text("config", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    x: integer("x").notNull(),
    y: integer("y").notNull(),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    createdBy: text("created_by"),
    updatedBy: text("updated_by"),
    ...timestamps,
  },
  (t) => [
    index("widgets_dashboard_idx").on(t.dashboardId, t.y, t.x),
    index("widgets_data_source_idx").on(t.dataSourceId),
  ],
);

export const WEBHOOK_EVENTS = [
  "dashboard.created",
  "dashboard.updated",
  "dashboard.deleted",
  "widget.created",
  "widget.updated",
  "widget.deleted",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** What a delivery can carry: an event, or the `webhook.ping` sent on request. */
export type DeliveryEvent = WebhookEvent | "webhook.ping";

export const webhookSubscriptions = sqliteTable(
  "webhook_subscriptions",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    description: text("description"),
    // A JSON array of event names, or ["*"].
    events: text("events", { mode: "json" }).$type<(WebhookEvent | "*")[]>().notNull(),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason"),
    secretEncrypted: text("secret_encrypted").notNull(),
    secretKeyVersion: integer("secret_key_version").notNull(),
    // After a rotation the old secret keeps signing until this time (24 h grace).
    previousSecretEncrypted: text("previous_secret_encrypted"),
    previousSecretKeyVersion: integer("previous_secret_key_version"),
    previousSecretExpiresAt: text("previous_secret_expires_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    createdBy: text("created_by"),
    ...timestamps,
  },
  (t) => [index("webhook_subscriptions_org_idx").on(t.organizationId, t.createdAt)],
);

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    subscriptionId: text("subscription_id")
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: "cascade" }),
    event: text("event").$type<DeliveryEvent>().notNull(),
    // The exact JSON body sent on every attempt (signatures cover these bytes).
    payload: text("payload").notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastAttemptAt: text("last_attempt_at"),
    nextAttemptAt: text("next_attempt_at"),
    responseStatus: integer("response_status"),
    responseDurationMs: integer("response_duration_ms"),
    error: text("error"),
    ...timestamps,
  },
  (t) => [
    index("webhook_deliveries_sub_idx").on(t.subscriptionId, t.createdAt),
    index("webhook_deliveries_status_idx").on(t.status, t.nextAttemptAt),
  ],
);

export const webhookDeliveryAttempts = sqliteTable(
  "webhook_delivery_attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    organizationId: text("organization_id").notNull(),
    attemptNumber: integer("attempt_number").notNull(),
    startedAt: text("started_at").notNull(),
    responseStatus: integer("response_status"),
    durationMs: integer("duration_ms"),
    error: text("error"),
    // At most 1 KiB of the receiver's answer.
    responseBody: text("response_body"),
  },
  (t) => [index("webhook_delivery_attempts_delivery_idx").on(t.deliveryId, t.attemptNumber)],
);

export type Organization = typeof organizations.$inferSelect;
export type User = typeof users.$inferSelect;
export type RefreshToken = typeof refreshTokens.$inferSelect;
export type DataSource = typeof dataSources.$inferSelect;
export type Dashboard = typeof dashboards.$inferSelect;
export type Widget = typeof widgets.$inferSelect;
export type WebhookSubscription = typeof webhookSubscriptions.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
export type WebhookDeliveryAttempt = typeof webhookDeliveryAttempts.$inferSelect;
