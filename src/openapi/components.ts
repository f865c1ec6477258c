// Names for the schemas the document lists under components: request bodies (components.
// requestBodies) rendered as zod *input* (defaulted fields optional, transforms not applied),
// responses and webhook payloads (components.schemas) as *output*. Every body and response schema the route table uses must be named here
// (document.ts refuses to build otherwise); a named schema nested in another becomes a $ref.
import type { z } from "zod";
import { pageMeta } from "../lib/pagination";
import { loginBody, refreshTokenBody, registerBody, sessionResponse, tokenPair } from "../schemas/auth";
import {
  createDashboardBody,
  dashboardDetail,
  dashboardListItem,
  dashboardPage,
  dashboardResponse,
  publicDashboardResponse,
  updateDashboardBody,
} from "../schemas/dashboards";
import { connectionTestResult, testConnectionBody } from "../schemas/data-source-connection";
import {
  createDataSourceBody,
  dataSourceDetail,
  dataSourceListItem,
  dataSourcePage,
  dataSourceResponse,
  sampleDataSourceDetail,
  updateDataSourceBody,
} from "../schemas/data-sources";
import { errorBody, errorDetail } from "../schemas/errors";
import { healthResponse } from "../schemas/health";
import { changePasswordBody, createUserBody, updateMeBody, updateUserBody, userPage, userResponse } from "../schemas/users";
import {
  createWebhookBody,
  deliveryAttempt,
  deliveryDetail,
  deliveryPage,
  deliveryResponse,
  eventPayloads,
  updateWebhookBody,
  webhookPage,
  webhookPayload,
  webhookResponse,
  webhookWithSecret,
} from "../schemas/webhooks";
import {
  createWidgetBody,
  publicWidgetResponse,
  updateWidgetBody,
  widgetData,
  widgetDataError,
  widgetDataResponse,
  widgetPage,
  widgetQueryResult,
  widgetResponse,
} from "../schemas/widgets";
import { openApiObject } from "./routes";

export const REQUEST_COMPONENTS: Record<string, z.ZodType> = {
  RegisterRequest: registerBody,
  LoginRequest: loginBody,
  RefreshTokenRequest: refreshTokenBody,
  UpdateMeRequest: updateMeBody,
  ChangePasswordRequest: changePasswordBody,
  CreateUserRequest: createUserBody,
  UpdateUserRequest: updateUserBody,
  CreateDashboardRequest: createDashboardBody,
  UpdateDashboardRequest: updateDashboardBody,
  CreateWidgetRequest: createWidgetBody,
  UpdateWidgetRequest: updateWidgetBody,
  CreateDataSourceRequest: createDataSourceBody,
  UpdateDataSourceRequest: updateDataSourceBody,
  TestConnectionRequest: testConnectionBody,
  CreateWebhookRequest: createWebhookBody,
  UpdateWebhookRequest: updateWebhookBody,
};

/** The webhook events' payloads, by event name (the document's `webhooks` section). */
export const EVENT_COMPONENTS: Record<keyof typeof eventPayloads, string> = {
  "dashboard.created": "DashboardCreatedEvent",
  "dashboard.updated": "DashboardUpdatedEvent",
  "dashboard.deleted": "DashboardDeletedEvent",
  "widget.created": "WidgetCreatedEvent",
  "widget.updated": "WidgetUpdatedEvent",
  "widget.deleted": "WidgetDeletedEvent",
  "webhook.ping": "WebhookPingEvent",
};

export const RESPONSE_COMPONENTS: Record<string, z.ZodType> = {
  Error: errorBody,
  ErrorDetail: errorDetail,
  PageMeta: pageMeta,
  Health: healthResponse,
  Session: sessionResponse,
  TokenPair: tokenPair,
  User: userResponse,
  UserPage: userPage,
  Dashboard: dashboardResponse,
  DashboardListItem: dashboardListItem,
  DashboardPage: dashboardPage,
  DashboardDetail: dashboardDetail,
  PublicDashboard: publicDashboardResponse,
  Widget: widgetResponse,
  PublicWidget: publicWidgetResponse,
  WidgetPage: widgetPage,
  WidgetData: widgetData,
  WidgetQueryResult: widgetQueryResult,
  WidgetDataError: widgetDataError,
  WidgetDataResponse: widgetDataResponse,
  DataSource: dataSourceResponse,
  SampleDataSource: sampleDataSourceDetail,
  DataSourceDetail: dataSourceDetail,
  DataSourceListItem: dataSourceListItem,
  DataSourcePage: dataSourcePage,
  ConnectionTestResult: connectionTestResult,
  Webhook: webhookResponse,
  WebhookWithSecret: webhookWithSecret,
  WebhookPage: webhookPage,
  Delivery: deliveryResponse,
  DeliveryPage: deliveryPage,
  DeliveryAttempt: deliveryAttempt,
  DeliveryDetail: deliveryDetail,
  WebhookPayload: webhookPayload,
  ...Object.fromEntries(
    (Object.entries(EVENT_COMPONENTS) as [keyof typeof eventPayloads, string][]).map(([event, name]) => [name, eventPayloads[event]]),
  ),
  OpenApiDocument: openApiObject,
};
