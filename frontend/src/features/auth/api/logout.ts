import createClient from "openapi-fetch";
import type { paths } from "@/api/schema";

/**
 * A client with no bearer token and no refresh on 401: a sign-out the server refuses must never turn into a
 * refresh (and a redirect) with the very token being ended. fetch is looked up per call, as tests replace it.
 */
const plainClient = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  fetch: (request: Request) => fetch(request),
});

/** How long signing out waits for the server before signing out here anyway. */
export const LOGOUT_WAIT_MS = 3000;

/**
 * Ends this sign-in on the server: its refresh token, and every one rotated from it, stops working at once
 * (access tokens already issued live on until they expire, at most 15 minutes; other sign-ins are unaffected).
 * Best effort: never throws, and gives up after LOGOUT_WAIT_MS, since a user who asks to sign out is signed
 * out here whatever the network does.
 */
export async function endSessionOnServer(refreshToken: string): Promise<void> {
  const request = plainClient.POST("/api/v1/auth/logout", { body: { refresh_token: refreshToken } }).then(
    () => undefined,
    () => undefined,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, LOGOUT_WAIT_MS);
  });
  await Promise.race([request, timeout]);
  clearTimeout(timer);
}
