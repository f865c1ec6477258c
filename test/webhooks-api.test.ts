import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { webhookDeliveries, webhookSubscriptions } from "../src/db/schema";
import { ApiError } from "../src/lib/errors";
import { decryptSecret } from "../src/lib/crypto";
import { createWebhook, updateWebhook } from "../src/services/webhooks";
import { addMember, api, expectError, ISO_MS, registerOrg, UUID } from "./helpers";
import { config, consume, db, emit, orgIdOf, subscribe, waitForStatus } from "./webhook-helpers";

const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const body = (overrides: Record<string, unknown> = {}) => ({ url: "https://hooks.example.com/edgeboard", events: ["dashboard.created"], ...overrides });

describe("webhook subscriptions API", () => {
  it("creates a subscription and shows its secret only in the create response", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/webhooks", { token: admin.token, body: body({ description: "CRM sync" }) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      url: "https://hooks.example.com/edgeboard",
      description: "CRM sync",
      events: ["dashboard.created"],
      active: true,
      disabledReason: null,
      consecutiveFailures: 0,
      previousSecretExpiresAt: null,
      createdBy: admin.id,
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
      secret: expect.stringMatching(SECRET),
    });
    // 32 random bytes behind the prefix.
    expect(atob(res.body.secret.slice("whsec_".length))).toHaveLength(32);

    const got = await api("GET", `/api/webhooks/${res.body.id}`, { token: admin.token });
    expect(got.status).toBe(200);
    const { secret, ...withoutSecret } = res.body;
    expect(got.body).toEqual(withoutSecret);

    const list = await api("GET", "/api/webhooks", { token: admin.token });
    expect(list.body).toEqual({ data: [withoutSecret], meta: { total: 1, page: 1, limit: 20, pages: 1 } });
    for (const text of [JSON.stringify(got.body), JSON.stringify(list.body)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain("whsec_");
    }

    // At rest the secret is AES-GCM ciphertext, which decrypts to what the caller was shown.
    const row = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, res.body.id)).get();
    expect(row!.secretEncrypted).not.toContain(secret.slice(6, 20));
    expect(await decryptSecret({ ciphertext: row!.secretEncrypted, keyVersion: row!.secretKeyVersion }, config().encryptionKey)).toBe(secret);
  });

  it('accepts ["*"], de-duplicates events and can be created inactive', async () => {
    const admin = await registerOrg();
    const all = await api("POST", "/api/webhooks", { token: admin.token, body: body({ events: ["*"], active: false }) });
    expect(all.status).toBe(201);
    expect(all.body).toMatchObject({ events: ["*"], active: false });
    const dup = await api("POST", "/api/webhooks", { token: admin.token, body: body({ events: ["widget.deleted", "widget.deleted"] }) });
    expect(dup.body.events).toEqual(["widget.deleted"]);
  });

  it.each([
    [{ events: [] }, "events"],
    [{ events: ["dashboard.exploded"] }, "events.0"],
    [{ events: ["*", "dashboard.created"] }, "events"],
    [{ events: ["webhook.ping"] }, "events.0"],
    [{ events: "dashboard.created" }, "events"],
    [{ url: "" }, "url"],
    [{ url: "not a url" }, "url"],
    [{ url: `https://example.com/${"a".repeat(2100)}` }, "url"],
    [{ url: "https://user:pw@hooks.example.com/" }, "url"],
    [{ url: "ftp://hooks.example.com/" }, "url"],
    [{ active: "yes" }, "active"],
    [{ secret: "whsec_mine" }, "secret"],
  ])("rejects %j with a validation error on %s", async (overrides, field) => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/webhooks", { token: admin.token, body: body(overrides) });
    const details = expectError(res, 400, "validation_error");
    expect(details.map((d) => d.field)).toContain(field);
  });

  it("reports a malformed URL together with the body's other problems", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/webhooks", { token: admin.token, body: { url: "https://user:pw@hooks.example.com/", events: ["nope"] } });
    const details = expectError(res, 400, "validation_error");
    expect(details).toEqual(
      expect.arrayContaining([
        { field: "url", message: "URL must not contain credentials" },
        { field: "events.0", message: expect.any(String) },
      ]),
    );
  });

  it("requires url and events", async () => {
    const admin = await registerOrg();
    const details = expectError(await api("POST", "/api/webhooks", { token: admin.token, body: {} }), 400, "validation_error");
    expect(details.map((d) => d.field).sort()).toEqual(["events", "url"]);
  });

  it("is for admins only, and needs a token", async () => {
    const admin = await registerOrg();
    const created = await api("POST", "/api/webhooks", { token: admin.token, body: body() });
    for (const role of ["editor", "viewer"] as const) {
      const member = await addMember(admin, role);
      expectError(await api("GET", "/api/webhooks", { token: member.token }), 403, "forbidden");
      expectError(await api("POST", "/api/webhooks", { token: member.token, body: body() }), 403, "forbidden");
      expectError(await api("GET", `/api/webhooks/${created.body.id}`, { token: member.token }), 403, "forbidden");
      expectError(await api("POST", `/api/webhooks/${created.body.id}/rotate-secret`, { token: member.token }), 403, "forbidden");
      expectError(await api("GET", `/api/webhooks/${created.body.id}/deliveries`, { token: member.token }), 403, "forbidden");
    }
    expectError(await api("GET", "/api/webhooks"), 401, "unauthorized");
  });

  it("hides another organization's subscriptions and deliveries behind 404", async () => {
    const owner = await registerOrg();
    const other = await registerOrg();
    const created = await api("POST", "/api/webhooks", { token: owner.token, body: body() });
    const [deliveryId] = await emit(await orgIdOf(owner));
    const id = created.body.id;
    const base = `/api/webhooks/${id}`;
    for (const [method, path, payload] of [
      ["GET", base],
      ["PATCH", base, { description: "mine now" }],
      ["DELETE", base],
      ["POST", `${base}/rotate-secret`],
      ["POST", `${base}/ping`],
      ["GET", `${base}/deliveries`],
      ["GET", `${base}/deliveries/${deliveryId}`],
      ["POST", `${base}/deliveries/${deliveryId}/redeliver`],
    ] as const) {
      expectError(await api(method, path, { token: other.token, body: payload }), 404, "not_found");
    }
    expect((await api("GET", "/api/webhooks", { token: other.token })).body.meta.total).toBe(0);
    // Untouched for its owner.
    const still = await api("GET", base, { token: owner.token });
    expect(still.body.description).toBeNull();
    expect((await api("GET", `${base}/deliveries`, { token: owner.token })).body.meta.total).toBe(1);
  });

  it("answers malformed or unknown ids with 404", async () => {
    const admin = await registerOrg();
    expectError(await api("GET", "/api/webhooks/not-a-uuid", { token: admin.token }), 404, "not_found");
    expectError(await api("GET", `/api/webhooks/${crypto.randomUUID()}`, { token: admin.token }), 404, "not_found");
    const created = await api("POST", "/api/webhooks", { token: admin.token, body: body() });
    expectError(await api("GET", `/api/webhooks/${created.body.id}/deliveries/${crypto.randomUUID()}`, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", `/api/webhooks/${created.body.id}/deliveries/nope`, { token: admin.token }), 404, "not_found");
  });

  it("paginates the list newest first", async () => {
    const admin = await registerOrg();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api("POST", "/api/webhooks", { token: admin.token, body: body({ description: `n${i}` }) })).body.id);
    const page1 = await api("GET", "/api/webhooks?limit=2", { token: admin.token });
    const page2 = await api("GET", "/api/webhooks?limit=2&page=2", { token: admin.token });
    expect(page1.body.meta).toEqual({ total: 3, page: 1, limit: 2, pages: 2 });
    expect([...page1.body.data, ...page2.body.data].map((s: { id: string }) => s.id)).toEqual([...ids].reverse());
    expectError(await api("GET", "/api/webhooks?limit=0", { token: admin.token }), 400, "validation_error");
  });

  it("updates fields, checks them like create, and 204s a delete", async () => {
    const admin = await registerOrg();
    const { body: sub } = await api("POST", "/api/webhooks", { token: admin.token, body: body() });
    const patched = await api("PATCH", `/api/webhooks/${sub.id}`, {
      token: admin.token,
      body: { url: "https://other.example.com/in", events: ["widget.created", "widget.updated"], description: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ url: "https://other.example.com/in", events: ["widget.created", "widget.updated"], description: null });
    expect(patched.body.secret).toBeUndefined();
    expectError(await api("PATCH", `/api/webhooks/${sub.id}`, { token: admin.token, body: {} }), 400, "validation_error");
    expectError(await api("PATCH", `/api/webhooks/${sub.id}`, { token: admin.token, body: { events: [] } }), 400, "validation_error");
    expectError(await api("PATCH", `/api/webhooks/${sub.id}`, { token: admin.token, body: { url: "https://a:b@x.example.com/" } }), 400, "validation_error");

    const del = await api("DELETE", `/api/webhooks/${sub.id}`, { token: admin.token });
    expect(del.status).toBe(204);
    expect(del.body).toBe("");
    expectError(await api("GET", `/api/webhooks/${sub.id}`, { token: admin.token }), 404, "not_found");
    expectError(await api("DELETE", `/api/webhooks/${sub.id}`, { token: admin.token }), 404, "not_found");
  });

  it("deleting a subscription deletes its delivery log", async () => {
    const admin = await registerOrg();
    const { body: sub } = await api("POST", "/api/webhooks", { token: admin.token, body: body() });
    const ids = await emit(await orgIdOf(admin));
    expect(ids).toHaveLength(1);
    await api("DELETE", `/api/webhooks/${sub.id}`, { token: admin.token });
    expect(await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, ids[0]!)).get()).toBeUndefined();
    // A message still in the Queue for it finds nothing and is acknowledged.
    const result = await consume(ids);
    expect(result.explicitAcks).toEqual([expect.stringContaining(ids[0]!)]);
  });

  it("re-enabling a disabled subscription clears its disabled reason and failure count", async () => {
    const admin = await registerOrg();
    const { body: sub } = await api("POST", "/api/webhooks", { token: admin.token, body: body() });
    await db
      .update(webhookSubscriptions)
      .set({ active: false, disabledReason: "Disabled after 5 consecutive failed deliveries", consecutiveFailures: 5 })
      .where(eq(webhookSubscriptions.id, sub.id));
    const shown = await api("GET", `/api/webhooks/${sub.id}`, { token: admin.token });
    expect(shown.body).toMatchObject({ active: false, disabledReason: "Disabled after 5 consecutive failed deliveries", consecutiveFailures: 5 });
    expectError(await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token }), 409, "conflict");

    const enabled = await api("PATCH", `/api/webhooks/${sub.id}`, { token: admin.token, body: { active: true } });
    expect(enabled.body).toMatchObject({ active: true, disabledReason: null, consecutiveFailures: 0 });
  });

  it("rotates the secret: a new one is returned once and the old one stays valid for 24 hours", async () => {
    const admin = await registerOrg();
    const { body: sub } = await api("POST", "/api/webhooks", { token: admin.token, body: body() });
    const before = Date.now();
    const rotated = await api("POST", `/api/webhooks/${sub.id}/rotate-secret`, { token: admin.token });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(SECRET);
    expect(rotated.body.secret).not.toBe(sub.secret);
    const expires = Date.parse(rotated.body.previousSecretExpiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 24 * 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 24 * 3600_000 + 1000);
    const row = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, sub.id)).get();
    const key = config().encryptionKey;
    expect(await decryptSecret({ ciphertext: row!.secretEncrypted, keyVersion: row!.secretKeyVersion }, key)).toBe(rotated.body.secret);
    expect(await decryptSecret({ ciphertext: row!.previousSecretEncrypted!, keyVersion: row!.previousSecretKeyVersion! }, key)).toBe(sub.secret);
    const got = await api("GET", `/api/webhooks/${sub.id}`, { token: admin.token });
    expect(JSON.stringify(got.body)).not.toContain("whsec_");
  });

  it("the URL guard refuses http and internal targets when the development flag is off", async () => {
    const admin = await registerOrg();
    const actor = { userId: admin.id, organizationId: await orgIdOf(admin), role: "admin" as const };
    const strict = { ...config(), allowPrivateNetworkTargets: false };
    for (const url of [
      "http://hooks.example.com/",
      "https://127.0.0.1/",
      "https://[::1]/",
      "https://[::ffff:10.0.0.1]/",
      "https://2130706433/",
      "https://0x7f.1/",
      "https://169.254.169.254/latest/meta-data",
      "https://localhost/",
      "https://db.internal/",
      "https://printer.local/",
    ]) {
      const err = await createWebhook(db, actor, { url, events: ["*"] }, strict).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe("validation_error");
      expect((err as ApiError).details[0]).toEqual({ field: "url", message: expect.stringContaining("not allowed") });
    }
    const ok = await createWebhook(db, actor, { url: "https://hooks.example.com/in", events: ["*"] }, strict);
    const err = await updateWebhook(db, actor, ok.subscription.id, { url: "https://10.1.2.3/" }, strict).catch((e: unknown) => e);
    expect((err as ApiError).code).toBe("validation_error");
    // The tests' own Worker runs with the flag on, so loopback http is accepted there.
    expect(env.ALLOW_PRIVATE_NETWORK_TARGETS).toBe("true");
  });

  it("lists deliveries newest first, filters by status, and shows one with its attempts", async () => {
    const admin = await registerOrg();
    const { body: sub } = await api("POST", "/api/webhooks", { token: admin.token, body: body({ events: ["*"] }) });
    const org = await orgIdOf(admin);
    const ids = [...(await emit(org, "dashboard.created")), ...(await emit(org, "widget.created")), ...(await emit(org, "dashboard.deleted"))];
    await db.update(webhookDeliveries).set({ status: "failed", attempts: 4, error: "Receiver answered 500" }).where(eq(webhookDeliveries.id, ids[1]!));

    const list = await api("GET", `/api/webhooks/${sub.id}/deliveries`, { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.meta).toEqual({ total: 3, page: 1, limit: 20, pages: 1 });
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([...ids].reverse());
    expect(list.body.data[2]).toEqual({
      id: ids[0],
      subscriptionId: sub.id,
      event: "dashboard.created",
      status: "pending",
      attempts: 0,
      lastAttemptAt: null,
      nextAttemptAt: null,
      responseStatus: null,
      responseDurationMs: null,
      error: null,
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
    });
    expect(JSON.stringify(list.body)).not.toContain("payload");

    const failed = await api("GET", `/api/webhooks/${sub.id}/deliveries?status=failed`, { token: admin.token });
    expect(failed.body.data.map((d: { id: string }) => d.id)).toEqual([ids[1]]);
    const paged = await api("GET", `/api/webhooks/${sub.id}/deliveries?limit=1&page=3`, { token: admin.token });
    expect(paged.body.data.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    expectError(await api("GET", `/api/webhooks/${sub.id}/deliveries?status=lost`, { token: admin.token }), 400, "validation_error");

    const one = await api("GET", `/api/webhooks/${sub.id}/deliveries/${ids[0]}`, { token: admin.token });
    expect(one.body).toMatchObject({ id: ids[0], event: "dashboard.created", attemptLog: [] });
    expect(one.body.payload).toEqual({ event: "dashboard.created", data: expect.objectContaining({ name: "Sales" }), timestamp: expect.stringMatching(ISO_MS) });
  });

  it("redeliver makes a finished delivery pending again and sends it", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin);
    const [id] = await emit(await orgIdOf(admin));
    await db.update(webhookDeliveries).set({ status: "failed", attempts: 4, nextAttemptAt: null }).where(eq(webhookDeliveries.id, id!));
    const res = await api("POST", `/api/webhooks/${sub.id}/deliveries/${id}/redeliver`, { token: admin.token });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id, status: "pending", attempts: 4, nextAttemptAt: null });
    // The real Queue consumer makes attempt 5.
    const done = await waitForStatus(admin, sub.id, id!, "succeeded");
    expect(done.attempts).toBe(5);
    expect(done.attemptLog.map((a: { attemptNumber: number }) => a.attemptNumber)).toEqual([5]);
    const got = await sub.sink.waitFor(1);
    expect(got[0]!.headers["webhook-id"]).toBe(id);
  });
});
