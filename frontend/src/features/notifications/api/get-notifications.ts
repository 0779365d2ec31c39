import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { components, paths } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";

export type Notification = components["schemas"]["Notification"];
export type NotificationPage = components["schemas"]["NotificationPage"];
export type NotificationQuery = NonNullable<paths["/api/v1/notifications"]["get"]["parameters"]["query"]>;

/** How often the header's unread count asks again while the page stays open (and on every return to the tab). */
export const UNREAD_POLL_MS = 30_000;

export const notificationKeys = {
  all: ["notifications"] as const,
  list: (query: NotificationQuery) => ["notifications", "list", query] as const,
  unread: ["notifications", "unread"] as const,
};

function fetchNotifications(query: NotificationQuery): Promise<NotificationPage> {
  return unwrap(apiClient.GET("/api/v1/notifications", { params: { query } }));
}

export function useNotifications(query: NotificationQuery) {
  return useQuery({
    queryKey: notificationKeys.list(query),
    queryFn: () => fetchNotifications(query),
    placeholderData: keepPreviousData,
    // The reminder pass adds notifications at any time: always fetch afresh when shown.
    staleTime: 0,
  });
}

/** The signed-in user's unread count: one item's page is enough, the envelope carries the count. */
export function useUnreadCount() {
  return useQuery({
    queryKey: notificationKeys.unread,
    queryFn: () => fetchNotifications({ unread: true, page_size: 1 }),
    select: (page) => page.unread,
    staleTime: 0,
    refetchInterval: UNREAD_POLL_MS,
    refetchOnWindowFocus: true,
  });
}
