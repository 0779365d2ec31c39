import { useMutation } from "@tanstack/react-query";
import type { components } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";

export type RegisterInput = components["schemas"]["Register"];

export function useRegister() {
  return useMutation({
    mutationFn: (input: RegisterInput) => unwrap(apiClient.POST("/api/v1/auth/register", { body: input })),
  });
}
