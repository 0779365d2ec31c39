export const RATE_LIMIT_MESSAGE = "You’re making too many requests. Please wait a bit and try again.";

type ErrorBody = {
  error?: { code?: string; message?: string; details?: Record<string, unknown>; correlation_id?: string | null };
};

/** A failed API call, carrying what the spec's error format says and the correlation id to report. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly correlationId: string | null;

  constructor(status: number, code: string, message: string, details: Record<string, unknown>, correlationId: string | null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.correlationId = correlationId;
  }

  /** Field name → messages, from `error.details.fields` of a validation error. */
  get fieldErrors(): Record<string, string[]> {
    const fields = this.details.fields;
    if (!fields || typeof fields !== "object") return {};
    return Object.fromEntries(
      Object.entries(fields as Record<string, unknown>).map(([name, messages]) => [
        name,
        Array.isArray(messages) ? messages.map(String) : [String(messages)],
      ]),
    );
  }

  /** What a person should read: the friendly rate-limit text for 429, otherwise the server's message. */
  get userMessage(): string {
    return this.status === 429 ? RATE_LIMIT_MESSAGE : this.message;
  }

  static async fromResponse(response: Response): Promise<ApiError> {
    let body: ErrorBody = {};
    try {
      body = (await response.clone().json()) as ErrorBody;
    } catch {
      // Not JSON (a proxy's HTML page, an empty body): the status alone has to do.
    }
    return ApiError.fromBody(response.status, body, response.headers.get("X-Correlation-ID"));
  }

  static fromBody(status: number, body: unknown, headerCorrelationId: string | null): ApiError {
    const error = (body as ErrorBody | null)?.error ?? {};
    return new ApiError(
      status,
      error.code ?? `HTTP_${status}`,
      error.message ?? `Request failed with status ${status}`,
      error.details ?? {},
      headerCorrelationId ?? error.correlation_id ?? null,
    );
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.userMessage;
  if (error instanceof Error) return error.message;
  return "Something went wrong";
}
