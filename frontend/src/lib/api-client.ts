import createClient from "openapi-fetch";
import type { paths } from "@/api/schema";
import { ApiError } from "@/lib/api-error";
import { clearTokens, getTokens, setTokens } from "@/lib/tokens";

const REFRESH_PATH = "/api/v1/auth/refresh";

/** Where the app goes when the session cannot be renewed; tests replace it. */
export const navigation = {
  toLogin(): void {
    if (window.location.pathname !== "/login") window.location.assign("/login");
  },
};

let refreshInFlight: Promise<boolean> | null = null;

async function requestNewTokens(): Promise<boolean> {
  const refreshToken = getTokens()?.refreshToken;
  if (!refreshToken) return false;
  try {
    const response = await fetch(new URL(REFRESH_PATH, window.location.origin), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { access_token: string; refresh_token?: string };
    setTokens({ accessToken: body.access_token, refreshToken: body.refresh_token ?? refreshToken });
    return true;
  } catch {
    return false;
  }
}

/**
 * Renews the access token once for everyone waiting: concurrent 401s share one refresh request.
 * On failure the session is over: tokens are dropped and the app goes to /login.
 */
export function refreshSession(): Promise<boolean> {
  refreshInFlight ??= requestNewTokens()
    .then((renewed) => {
      if (!renewed) {
        clearTokens();
        navigation.toLogin();
      }
      return renewed;
    })
    .finally(() => {
      refreshInFlight = null;
    });
  return refreshInFlight;
}

function withAccessToken(request: Request): Request {
  const accessToken = getTokens()?.accessToken;
  if (!accessToken) return request;
  const authorized = new Request(request);
  authorized.headers.set("Authorization", `Bearer ${accessToken}`);
  return authorized;
}

/** fetch with the access token attached, one refresh-and-retry on 401, and ApiError for any failure. */
async function authorizedFetch(request: Request): Promise<Response> {
  const retryable = request.clone();
  const hadToken = getTokens() !== null;
  let response = await fetch(withAccessToken(request));
  if (response.status === 401 && hadToken && (await refreshSession())) {
    response = await fetch(withAccessToken(retryable));
  }
  if (!response.ok) throw await ApiError.fromResponse(response);
  return response;
}

export const apiClient = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  fetch: authorizedFetch,
});

/** Unwraps an openapi-fetch result: errors are already thrown by authorizedFetch, so data is what remains. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined) throw ApiError.fromBody(response.status, error, response.headers.get("X-Correlation-ID"));
  return data as T;
}
