/**
 * openhands-api: a client for the OpenHands REST API, one interface over its two generations
 * (V0 ``/api/conversations…`` and V1 ``/api/v1/…``). No runtime dependencies: the platform's
 * fetch, AbortSignal and ReadableStream. Node-only helpers are in "openhands-api/node".
 */

export type { CallOptions, ClientOptions, CreateOptions, HistoryDownload, RawRoutes, WaitOptions } from "./client.js";
export { OpenHandsAPI } from "./client.js";
export * from "./errors.js";
export * as lifecycle from "./lifecycle.js";
export type {
  ApiVersion,
  AppConversation,
  Conversation,
  ConversationInfo,
  ConversationResult,
  Event,
  Outcome,
  SentMessage,
  StartTask,
  V0Event,
  V1Event,
} from "./models.js";
export { isTerminal, succeeded } from "./models.js";
export { RetryPolicy } from "./retry.js";
