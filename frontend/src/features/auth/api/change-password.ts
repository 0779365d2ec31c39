import { useMutation } from "@tanstack/react-query";
import type { components } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";

export type ChangePasswordInput = components["schemas"]["ChangePassword"];

export function useChangePassword() {
  return useMutation({
    mutationFn: (input: ChangePasswordInput) =>
      unwrap(apiClient.POST("/api/v1/auth/change-password", { body: input })),
  });
}
