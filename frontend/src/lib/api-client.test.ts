import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { apiClient, navigation, unwrap } from "@/lib/api-client";
import { ApiError, RATE_LIMIT_MESSAGE } from "@/lib/api-error";
import { getTokens, setTokens } from "@/lib/tokens";

type Handler = (request: Request) => Response | Promise<Response>;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

const expired = () =>
  json(401, { error: { code: "TOKEN_EXPIRED", message: "Token expired", details: {}, correlation_id: "c-401" } });

const me = { id: "u1", email: "ada@example.com", full_name: null, created_at: "2026-01-01T00:00:00Z" };

/** A fake server: the handler sees every request; calls are recorded for assertions. */
function serve(handler: Handler) {
  const calls: Request[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      calls.push(request.clone());
      return handler(request);
    }),
  );
  return calls;
}

const isRefresh = (request: Request) => new URL(request.url).pathname === "/api/v1/auth/refresh";

describe("api client", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "old-access", refreshToken: "refresh-1" });
    navigation.toLogin = vi.fn();
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("attaches the access token as a bearer header", async () => {
    const calls = serve(() => json(200, me));
    await unwrap(apiClient.GET("/api/v1/auth/me"));
    expect(calls[0]?.headers.get("Authorization")).toBe("Bearer old-access");
  });

  it("refreshes once on 401 and retries the request with the new token", async () => {
    const calls = serve(async (request) => {
      if (isRefresh(request)) {
        expect(await request.json()).toEqual({ refresh_token: "refresh-1" });
        return json(200, { access_token: "new-access", refresh_token: "refresh-2", token_type: "bearer", expires_in: 900 });
      }
      return request.headers.get("Authorization") === "Bearer new-access" ? json(200, me) : expired();
    });

    const user = await unwrap(apiClient.GET("/api/v1/auth/me"));

    expect(user.email).toBe("ada@example.com");
    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(calls.map((call) => new URL(call.url).pathname)).toEqual([
      "/api/v1/auth/me",
      "/api/v1/auth/refresh",
      "/api/v1/auth/me",
    ]);
    expect(getTokens()).toEqual({ accessToken: "new-access", refreshToken: "refresh-2" });
    expect(JSON.parse(localStorage.getItem("tasktracker.tokens") ?? "{}").accessToken).toBe("new-access");
  });

  it("retries a request with a body after the refresh", async () => {
    const bodies: unknown[] = [];
    serve(async (request) => {
      if (isRefresh(request))
        return json(200, { access_token: "new-access", refresh_token: "r2", token_type: "bearer", expires_in: 900 });
      bodies.push(await request.json());
      return request.headers.get("Authorization") === "Bearer new-access" ? json(201, { id: "t1" }) : expired();
    });

    await unwrap(apiClient.POST("/api/v1/tasks", { body: { title: "Write the report" } }));

    expect(bodies).toEqual([{ title: "Write the report" }, { title: "Write the report" }]);
  });

  it("does not refresh a second time when the retried request is refused again", async () => {
    const calls = serve((request) =>
      isRefresh(request)
        ? json(200, { access_token: "new-access", refresh_token: "r2", token_type: "bearer", expires_in: 900 })
        : expired(),
    );

    await expect(unwrap(apiClient.GET("/api/v1/auth/me"))).rejects.toMatchObject({ status: 401 });
    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(calls).toHaveLength(3);
  });

  it("shares one refresh between concurrent requests that get 401", async () => {
    let releaseRefresh: () => void = () => {};
    const refreshGate = new Promise<void>((resolve) => (releaseRefresh = resolve));
    const calls = serve(async (request) => {
      if (isRefresh(request)) {
        await refreshGate;
        return json(200, { access_token: "new-access", refresh_token: "r2", token_type: "bearer", expires_in: 900 });
      }
      return request.headers.get("Authorization") === "Bearer new-access" ? json(200, me) : expired();
    });

    const first = unwrap(apiClient.GET("/api/v1/auth/me"));
    const second = unwrap(apiClient.GET("/api/v1/tasks", { params: { query: {} } }));
    await vi.waitFor(() => expect(calls.filter(isRefresh)).toHaveLength(1));
    releaseRefresh();
    await Promise.all([first, second]);

    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(calls.filter((call) => !isRefresh(call))).toHaveLength(4);
  });

  it("clears the tokens and goes to /login when the refresh fails", async () => {
    serve((request) =>
      isRefresh(request)
        ? json(401, { error: { code: "INVALID_TOKEN", message: "Refresh token revoked", details: {}, correlation_id: "c" } })
        : expired(),
    );

    await expect(unwrap(apiClient.GET("/api/v1/auth/me"))).rejects.toBeInstanceOf(ApiError);

    expect(getTokens()).toBeNull();
    expect(localStorage.getItem("tasktracker.tokens")).toBeNull();
    expect(navigation.toLogin).toHaveBeenCalledTimes(1);
  });

  it("carries the error code, details and the X-Correlation-ID header in ApiError", async () => {
    serve(() =>
      json(
        400,
        {
          error: {
            code: "VALIDATION_ERROR",
            message: "The request is not valid",
            details: { fields: { title: ["Length must be between 1 and 200."] } },
            correlation_id: "from-body",
          },
        },
        { "X-Correlation-ID": "corr-123" },
      ),
    );

    const error = await unwrap(apiClient.POST("/api/v1/tasks", { body: { title: "" } })).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.code).toBe("VALIDATION_ERROR");
    expect(apiError.correlationId).toBe("corr-123");
    expect(apiError.fieldErrors).toEqual({ title: ["Length must be between 1 and 200."] });
  });

  it("turns a 429 into the spec's friendly message", async () => {
    serve(() => json(429, { error: { code: "RATE_LIMITED", message: "Too many requests", details: {}, correlation_id: "c" } }));

    const error = (await unwrap(apiClient.GET("/api/v1/auth/me")).catch((caught: unknown) => caught)) as ApiError;

    expect(error.userMessage).toBe(RATE_LIMIT_MESSAGE);
    expect(RATE_LIMIT_MESSAGE).toBe("You’re making too many requests. Please wait a bit and try again.");
  });
});
