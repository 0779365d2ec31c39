import { QueryCache, QueryClient } from "@tanstack/react-query";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

export function createQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({ onError: (error) => toast.error(error) }),
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // Client errors will not change on their own; retrying a 429 only makes it worse.
        retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
      },
    },
  });
}
