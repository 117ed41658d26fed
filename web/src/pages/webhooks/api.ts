// Webhooks (/api/v1/webhooks): the hooks, the events they may subscribe to, a test delivery,
// the delivery log and redelivery. The shapes are the server's (V1<…>, generated).
import { apiDelete, apiGet, apiPatch, apiPost } from "../../api/http";
import type { V1 } from "../../api/types";

const enc = encodeURIComponent;

export type Webhook = V1<"WebhookOut">;
export type WebhookList = V1<"WebhookList">;
export type Delivery = V1<"DeliveryOut">;
export type DeliveryList = V1<"DeliveryList">;
export type EventPair = V1<"EventPair">;
export type EventsList = V1<"EventsOut">;
export type TestResult = V1<"TestOut">;

export interface NewWebhook {
  name: string;
  url: string;
  events: string[];
  description?: string;
  secret?: string;
  scope?: { experiment_id?: string; model_name?: string } | null;
}

export const listWebhooks = (page_token?: string | null) =>
  apiGet<WebhookList>("/api/v1/webhooks", { max_results: 100, page_token: page_token ?? undefined });
export const listEvents = () => apiGet<EventsList>("/api/v1/webhooks/events");
export const createWebhook = (body: NewWebhook) => apiPost<Webhook>("/api/v1/webhooks", body);
export const setStatus = (id: string, status: "ACTIVE" | "DISABLED") => apiPatch<Webhook>(`/api/v1/webhooks/${enc(id)}`, { status });
export const deleteWebhook = (id: string) => apiDelete<unknown>(`/api/v1/webhooks/${enc(id)}`);
export const testWebhook = (id: string) => apiPost<TestResult>(`/api/v1/webhooks/${enc(id)}/test`, {});
export const listDeliveries = (id: string, page_token?: string | null) =>
  apiGet<DeliveryList>(`/api/v1/webhooks/${enc(id)}/deliveries`, { max_results: 50, page_token: page_token ?? undefined });
export const redeliver = (deliveryId: string) => apiPost<Delivery>(`/api/v1/webhooks/deliveries/${enc(deliveryId)}/redeliver`, {});
