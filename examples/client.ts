// A typed Edgeboard client: types generated from the API document with openapi-typescript,
// requests made with openapi-fetch. Generate the types next to this file first:
//
//   npx openapi-typescript http://localhost:8787/api/openapi.json -o examples/edgeboard-api.d.ts
//
// (test/node/openapi.test.ts generates them from the same document and type-checks this file.)
import createClient from "openapi-fetch";
import type { components, paths } from "./edgeboard-api";

export type Dashboard = components["schemas"]["DashboardDetail"];
export type ApiError = components["schemas"]["Error"]["error"];

/** A client for one base URL; with a token, every request carries it. */
export function edgeboard(baseUrl: string, accessToken?: string) {
  const client = createClient<paths>({ baseUrl });
  if (accessToken) {
    client.use({
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${accessToken}`);
        return request;
      },
    });
  }
  return client;
}

/** Signs in, creates a dashboard with a widget on the built-in sample data, and reads it back. */
export async function example(baseUrl: string, email: string, password: string): Promise<Dashboard> {
  const login = await edgeboard(baseUrl).POST("/api/auth/login", { body: { email, password } });
  if (login.error) throw new Error(`${login.error.error.code}: ${login.error.error.message}`);
  const api = edgeboard(baseUrl, login.data.accessToken);

  const created = await api.POST("/api/dashboards", { body: { name: "Sales", isPublic: false } });
  if (created.error) throw new Error(created.error.error.message);
  const dashboardId = created.data.id;

  const widget = await api.POST("/api/dashboards/{dashboardId}/widgets", {
    params: { path: { dashboardId } },
    body: {
      type: "bar_chart",
      title: "Orders per status",
      dataSourceId: "5a301e00-da7a-4000-8000-000000000001",
      config: { query: "SELECT status, count(*) AS orders FROM orders GROUP BY status" },
      x: 0,
      y: 0,
      width: 6,
      height: 4,
    },
  });
  if (widget.error) throw new Error(widget.error.error.details.map((d) => `${d.field}: ${d.message}`).join("; "));

  const page = await api.GET("/api/dashboards", { params: { query: { sort: "-updatedAt", limit: 10 } } });
  console.log(`${page.data?.meta.total ?? 0} dashboards`);

  const { data, error } = await api.GET("/api/dashboards/{id}", { params: { path: { id: dashboardId } } });
  if (error) throw new Error(error.error.message);
  for (const w of data.widgets) {
    if ("rows" in w.data) console.log(w.title, w.data.columns.map((c) => c.name), `${w.data.rowCount} rows`);
    else if ("error" in w.data) console.warn(w.title, w.data.error.code, w.data.error.message);
  }
  return data;
}
