import { useMutation } from "@tanstack/react-query";
import type { components } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";
import { clearTokens, setTokens } from "@/lib/tokens";

export type LoginInput = components["schemas"]["Login"];

export async function login(input: LoginInput): Promise<void> {
  // A stale session must not turn a wrong password into a refresh attempt.
  clearTokens();
  const token = await unwrap(apiClient.POST("/api/v1/auth/login", { body: input }));
  setTokens({ accessToken: token.access_token, refreshToken: token.refresh_token });
}

export function useLogin() {
  return useMutation({ mutationFn: login });
}
