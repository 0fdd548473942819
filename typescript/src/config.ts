/**
 * Where settings come from: arguments › environment (Node only; ``process`` is guarded so the
 * module loads in browsers) › defaults (CONTRACT §1.3). Also the base-URL checks and the
 * refusal to send a key in clear text to another machine.
 */

import { ConfigurationError, MissingAPIKeyError } from "./errors.js";

export const DEFAULT_BASE_URL = "https://app.all-hands.dev";
const CLOUD_HOSTS = new Set(["app.all-hands.dev", "app.openhands.dev"]);

/** An environment variable in Node; undefined in a browser. */
export function environment(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name]?.trim();
  return value ? value : undefined;
}

export function normalizeBaseUrl(url: string): string {
  const text = url.trim();
  if (!text) throw new ConfigurationError("The base URL is empty; use e.g. https://app.all-hands.dev");
  let parts: URL;
  try {
    parts = new URL(text);
  } catch {
    throw new ConfigurationError(
      `The base URL ${JSON.stringify(text.slice(0, 80))} is not a valid URL; use e.g. https://app.all-hands.dev or http://localhost:3000`,
    );
  }
  if (parts.protocol !== "http:" && parts.protocol !== "https:") {
    throw new ConfigurationError(`The base URL must start with http:// or https:// (got ${JSON.stringify(text.slice(0, 80))})`);
  }
  if (parts.username || parts.password)
    throw new ConfigurationError("The base URL must not contain credentials. Pass the key with apiKey or set OPENHANDS_API_KEY.");
  if (parts.search || parts.hash) throw new ConfigurationError("The base URL must not have a query or fragment");
  return text.replace(/\/+$/, "");
}

export function isCloud(baseUrl: string): boolean {
  return CLOUD_HOSTS.has(new URL(baseUrl).hostname);
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost" || bare.endsWith(".localhost") || bare === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

export interface ResolvedSettings {
  baseUrl: string;
  apiKey: string | null;
  sessionApiKey: string | null;
}

export function resolveSettings(options: {
  apiKey?: string | null;
  baseUrl?: string | null;
  sessionApiKey?: string | null;
  allowInsecureHttp?: boolean;
}): ResolvedSettings {
  const baseUrl = normalizeBaseUrl(options.baseUrl ?? environment("OPENHANDS_BASE_URL") ?? environment("OPENHANDS_CLOUD_API_URL") ?? DEFAULT_BASE_URL);
  const apiKey = options.apiKey?.trim() || environment("OPENHANDS_API_KEY") || environment("OPENHANDS_CLOUD_API_KEY") || null;
  const sessionApiKey = options.sessionApiKey?.trim() || environment("OPENHANDS_SESSION_API_KEY") || null;
  if (apiKey === null && isCloud(baseUrl)) {
    throw new MissingAPIKeyError(
      "OpenHands Cloud needs an API key: pass apiKey, or set OPENHANDS_API_KEY (create one at https://app.all-hands.dev/settings/api-keys)",
    );
  }
  const url = new URL(baseUrl);
  if (url.protocol === "http:" && !options.allowInsecureHttp && (apiKey || sessionApiKey) && !isLoopbackHost(url.hostname)) {
    throw new ConfigurationError(
      `Refusing to send an API key over plain http:// to ${url.hostname}. Use https://, or pass allowInsecureHttp: true if this network is trusted.`,
    );
  }
  return { baseUrl, apiKey, sessionApiKey };
}
