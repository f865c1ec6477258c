import { expect } from "vitest";
import { api, type TestUser } from "./helpers";

export async function newDashboard(user: TestUser, body: Record<string, unknown> = {}) {
  const res = await api("POST", "/api/dashboards", { token: user.token, body: { name: "Sales Dashboard", ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; name: string; createdAt: string; updatedAt: string } & Record<string, unknown>;
}

export const widgetBody = (overrides: Record<string, unknown> = {}) => ({
  type: "line_chart",
  title: "Monthly Sales",
  config: {},
  x: 0,
  y: 0,
  width: 6,
  height: 4,
  ...overrides,
});

export async function newWidget(user: TestUser, dashboardId: string, overrides: Record<string, unknown> = {}) {
  const res = await api("POST", `/api/dashboards/${dashboardId}/widgets`, { token: user.token, body: widgetBody(overrides) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; createdAt: string; updatedAt: string } & Record<string, unknown>;
}

export const dataSourceBody = (overrides: Record<string, unknown> = {}, connection: Record<string, unknown> = {}) => ({
  name: "PostgreSQL Production",
  type: "postgresql",
  connection: {
    host: "127.0.0.1",
    port: 5432,
    database: "mydb",
    username: "user",
    password: "s3cret-Pa55word",
    ...connection,
  },
  ...overrides,
});

export async function newDataSource(admin: TestUser, overrides: Record<string, unknown> = {}, connection: Record<string, unknown> = {}) {
  const res = await api("POST", "/api/data-sources", { token: admin.token, body: dataSourceBody(overrides, connection) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; createdAt: string; updatedAt: string } & Record<string, unknown>;
}

/** The fields named in a validation error's details. */
export const fieldsOf = (details: { field: string }[]) => details.map((d) => d.field).sort();

export const NIL_UUID = "00000000-0000-4000-8000-000000000000";
