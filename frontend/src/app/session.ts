import { useQueryClient } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { useNavigate } from "react-router";
import { clearTokens, getTokens, subscribeToTokens } from "@/lib/tokens";

export function useIsSignedIn(): boolean {
  return useSyncExternalStore(subscribeToTokens, () => getTokens() !== null);
}

/** Ends the session on purpose and forgets everything cached for this user. */
export function useLogout(): () => Promise<void> {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return async () => {
    await navigate("/login", { replace: true });
    clearTokens();
    queryClient.clear();
  };
}
