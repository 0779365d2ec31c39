import type { ReactNode } from "react";
import { Link, useSearchParams } from "react-router";
import { EmptyState } from "@/components/empty-state";
import { Spinner } from "@/components/spinner";
import { useNotifications, type NotificationQuery } from "@/features/notifications/api/get-notifications";
import { useMarkAllRead, useMarkRead } from "@/features/notifications/api/mark-read";
import { formatDateTime, humanize } from "@/lib/format";

const PAGE_SIZE = 20;

/**
 * The user's notifications, newest first; the filter and the page live in the URL (?unread=true&page=2).
 * `settings` shows under the title, above the list, where it is seen without scrolling through the pages.
 */
export function NotificationList({ settings }: { settings?: ReactNode }) {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const unreadOnly = params.get("unread") === "true";
  const query: NotificationQuery = { page, page_size: PAGE_SIZE, unread: unreadOnly };
  const notifications = useNotifications(query);
  const markRead = useMarkRead();
  const markAllRead = useMarkAllRead();

  function show(next: { unread?: boolean; page?: number }) {
    const updated = new URLSearchParams(params);
    if (next.unread !== undefined) {
      if (next.unread) updated.set("unread", "true");
      else updated.delete("unread");
      updated.delete("page");
    }
    if (next.page !== undefined) {
      if (next.page > 1) updated.set("page", String(next.page));
      else updated.delete("page");
    }
    setParams(updated);
  }

  const unread = notifications.data?.unread ?? 0;
  const total = notifications.data?.total ?? 0;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <div>
      <div className="page-header">
        <h1>Notifications</h1>
        <button
          type="button"
          className="button"
          disabled={unread === 0 || markAllRead.isPending}
          onClick={() => markAllRead.mutate()}
        >
          Mark all read
        </button>
      </div>
      {settings}
      <div className="segmented" role="group" aria-label="Show">
        <button type="button" className="button small" aria-pressed={!unreadOnly} onClick={() => show({ unread: false })}>
          All
        </button>
        <button type="button" className="button small" aria-pressed={unreadOnly} onClick={() => show({ unread: true })}>
          Unread{notifications.data ? ` (${unread})` : ""}
        </button>
      </div>
      {notifications.isPending ? (
        <Spinner label="Loading notifications…" />
      ) : notifications.isError ? (
        <EmptyState title="The notifications could not be loaded." />
      ) : notifications.data.items.length === 0 ? (
        <EmptyState title={unreadOnly ? "No unread notifications." : "No notifications yet."}>
          <p className="muted">You are told here when a task of yours is due soon.</p>
        </EmptyState>
      ) : (
        <>
          <ul className="notification-list" aria-label="Notifications">
            {notifications.data.items.map((notification) => (
              <li
                key={notification.id}
                className={notification.read_at ? "card notification" : "card notification unread"}
                data-testid="notification"
              >
                <div className="notification-text">
                  <p className="notification-title">
                    <span className="badge">{humanize(notification.type)}</span>{" "}
                    {notification.task_id ? <Link to={`/tasks/${notification.task_id}`}>{notification.title}</Link> : notification.title}
                  </p>
                  <p>{notification.message}</p>
                  <p className="muted">
                    {formatDateTime(notification.created_at)}
                    {notification.read_at ? ` · read ${formatDateTime(notification.read_at)}` : ""}
                  </p>
                </div>
                {!notification.read_at && (
                  <button
                    type="button"
                    className="button small"
                    disabled={markRead.isPending && markRead.variables === notification.id}
                    onClick={() => markRead.mutate(notification.id)}
                    aria-label={`Mark "${notification.title}" read`}
                  >
                    Mark read
                  </button>
                )}
              </li>
            ))}
          </ul>
          <nav className="pagination" aria-label="Pagination">
            <button type="button" className="button" disabled={page <= 1} onClick={() => show({ page: page - 1 })}>
              Previous
            </button>
            <span>
              Page {page} of {pageCount}
            </span>
            <button type="button" className="button" disabled={page >= pageCount} onClick={() => show({ page: page + 1 })}>
              Next
            </button>
          </nav>
        </>
      )}
    </div>
  );
}
