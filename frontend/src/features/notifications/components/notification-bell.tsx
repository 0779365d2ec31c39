import { NavLink } from "react-router";
import { useUnreadCount } from "@/features/notifications/api/get-notifications";

/** The header's bell: links to the notifications page and shows how many are unread (none: no badge). */
export function NotificationBell() {
  const unread = useUnreadCount();
  const count = unread.data ?? 0;
  const label = count === 0 ? "Notifications" : `Notifications, ${count} unread`;

  return (
    <NavLink to="/notifications" className="bell" aria-label={label} title={label} data-testid="notification-bell">
      <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" strokeWidth="2">
        <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
        <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      {count > 0 && (
        <span className="bell-count" data-testid="unread-count">
          {count > 99 ? "99+" : count}
        </span>
      )}
    </NavLink>
  );
}
