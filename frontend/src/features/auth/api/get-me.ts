import { useQuery } from "@tanstack/react-query";
import type { components } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";

export type User = components["schemas"]["User"];

const meQueryKey = ["auth", "me"] as const;

export function useMe(enabled: boolean) {
  return useQuery({
    queryKey: meQueryKey,
    queryFn: () => unwrap(apiClient.GET("/api/v1/auth/me")),
    enabled,
    staleTime: 5 * 60_000,
  });
}
