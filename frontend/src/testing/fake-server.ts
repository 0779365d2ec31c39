import { vi } from "vitest";

export type Handler = (request: Request) => Response | Promise<Response>;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function apiError(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message, details: {}, correlation_id: `c-${status}` } }, { "X-Correlation-ID": `c-${status}` });
}

/** Answers every fetch with `handler`, as the server would; each request is recorded, with its body read. */
export function serve(handler: Handler) {
  const requests: { method: string; path: string; headers: Headers; body: unknown }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const text = await request.clone().text();
      requests.push({
        method: request.method,
        path: new URL(request.url).pathname,
        headers: request.headers,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      });
      return handler(request);
    }),
  );
  return requests;
}
