import { useQueryClient } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { useNavigate } from "react-router";
import { endSessionOnServer } from "@/features/auth/api/logout";
import { clearTokens, getTokens, subscribeToTokens } from "@/lib/tokens";

export function useIsSignedIn(): boolean {
  return useSyncExternalStore(subscribeToTokens, () => getTokens() !== null);
}

/**
 * Ends the session on purpose: on the server first (best effort, see endSessionOnServer), then here, forgetting
 * the tokens (other tabs follow through the storage event) and everything cached for this user.
 */
export function useLogout(): () => Promise<void> {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return async () => {
    const refreshToken = getTokens()?.refreshToken;
    if (refreshToken) await endSessionOnServer(refreshToken);
    await navigate("/login", { replace: true });
    clearTokens();
    queryClient.clear();
  };
}
