import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { components } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";

export type NotificationSettings = components["schemas"]["NotificationSettings"];

// Not under notificationKeys.all: marking notifications read must not fetch the settings again.
export const notificationSettingsKey = ["notification-settings"] as const;

export function useNotificationSettings() {
  return useQuery({
    queryKey: notificationSettingsKey,
    queryFn: () => unwrap(apiClient.GET("/api/v1/notifications/settings")),
  });
}

/**
 * Saves whether reminders also go by e-mail. The switch shows the new value while the request is out (it is
 * what the user just chose) and goes back to the old one if the server refuses it.
 */
export function useSaveNotificationSettings() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (email: boolean) => unwrap(apiClient.PUT("/api/v1/notifications/settings", { body: { email } })),
    onMutate: async (email) => {
      // A fetch still under way would land after this and put the old value back on the switch.
      await queryClient.cancelQueries({ queryKey: notificationSettingsKey });
      const previous = queryClient.getQueryData<NotificationSettings>(notificationSettingsKey);
      if (previous) queryClient.setQueryData<NotificationSettings>(notificationSettingsKey, { ...previous, email });
      return { previous };
    },
    onError: (_error, _email, context) => {
      if (context?.previous) queryClient.setQueryData(notificationSettingsKey, context.previous);
    },
    onSuccess: (settings) => queryClient.setQueryData(notificationSettingsKey, settings),
  });
}
