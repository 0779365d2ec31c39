import { NotificationList } from "@/features/notifications/components/notification-list";

export function NotificationsPage() {
  return <NotificationList />;
}
