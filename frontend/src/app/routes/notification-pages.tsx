import { EmailReminderSetting } from "@/features/notifications/components/email-reminder-setting";
import { NotificationList } from "@/features/notifications/components/notification-list";

export function NotificationsPage() {
  return <NotificationList settings={<EmailReminderSetting />} />;
}
