import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Notification } from "@/features/notifications/api/get-notifications";
import { NotificationList } from "@/features/notifications/components/notification-list";
import { setTokens } from "@/lib/tokens";
import { json, serve } from "@/testing/fake-server";
import { renderWithProviders } from "@/testing/render";

const unread: Notification = {
  id: "n2",
  type: "DUE_SOON",
  task_id: "t2",
  title: "Ship the release",
  message: "This task is due within 24 hours.",
  created_at: "2030-01-02T09:00:00+00:00",
  read_at: null,
};
const read: Notification = {
  ...unread,
  id: "n1",
  task_id: "t1",
  title: "Review the draft",
  created_at: "2030-01-01T09:00:00+00:00",
  read_at: "2030-01-01T10:00:00+00:00",
};

/** A server holding two notifications of the user: answers the list (with the unread filter) and the marks. */
function server() {
  let items = [unread, read];
  const calls: string[] = [];
  const requests = serve((request) => {
    const url = new URL(request.url);
    calls.push(`${request.method} ${url.pathname}${url.search}`);
    if (request.method === "POST" && url.pathname === "/api/v1/notifications/read-all") {
      const marked = items.filter((item) => !item.read_at).length;
      items = items.map((item) => ({ ...item, read_at: item.read_at ?? "2030-01-03T09:00:00+00:00" }));
      return json(200, { marked, unread: 0 });
    }
    if (request.method === "POST") {
      const id = url.pathname.split("/")[4];
      items = items.map((item) => (item.id === id ? { ...item, read_at: "2030-01-03T09:00:00+00:00" } : item));
      return json(200, items.find((item) => item.id === id));
    }
    const onlyUnread = url.searchParams.get("unread") === "true";
    const shown = items.filter((item) => !onlyUnread || !item.read_at);
    const unreadCount = items.filter((item) => !item.read_at).length;
    return json(200, { items: shown, page: 1, page_size: 20, total: shown.length, unread: unreadCount });
  });
  return { calls, requests };
}

describe("the notifications page", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access", refreshToken: "refresh" });
  });

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("lists the notifications newest first, unread ones with a Mark read button, linking to their task", async () => {
    server();
    renderWithProviders(<NotificationList />);

    const items = await screen.findAllByTestId("notification");
    const [newest, older] = items;
    if (!newest || !older) throw new Error("two notifications should be listed");
    expect(items.map((item) => within(item).getByRole("link").textContent)).toEqual(["Ship the release", "Review the draft"]);
    expect(within(newest).getByRole("link")).toHaveAttribute("href", "/tasks/t2");
    expect(within(newest).getByText("This task is due within 24 hours.")).toBeInTheDocument();
    expect(within(newest).getByRole("button", { name: 'Mark "Ship the release" read' })).toBeInTheDocument();
    expect(within(older).queryByRole("button")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Unread (1)" })).toBeInTheDocument();
  });

  it("marks one read and shows the list again as the server now has it", async () => {
    const { calls } = server();
    renderWithProviders(<NotificationList />);

    await userEvent.click(await screen.findByRole("button", { name: 'Mark "Ship the release" read' }));

    expect(await screen.findByRole("button", { name: "Unread (0)" })).toBeInTheDocument();
    expect(calls).toContain("POST /api/v1/notifications/n2/read");
    expect(screen.queryByRole("button", { name: /^Mark ".*" read$/ })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Mark all read" })).toBeDisabled();
  });

  it("filters to the unread ones, and marks all read", async () => {
    const { calls } = server();
    renderWithProviders(<NotificationList />);
    await screen.findAllByTestId("notification");

    await userEvent.click(screen.getByRole("button", { name: "Unread (1)" }));
    expect(await screen.findByRole("button", { name: "Unread (1)", pressed: true })).toBeInTheDocument();
    await vi.waitFor(() => expect(screen.getAllByTestId("notification")).toHaveLength(1));
    expect(calls.some((call) => call.startsWith("GET /api/v1/notifications?") && call.includes("unread=true"))).toBe(true);

    await userEvent.click(screen.getByRole("button", { name: "Mark all read" }));

    expect(await screen.findByText("No unread notifications.")).toBeInTheDocument();
    expect(calls).toContain("POST /api/v1/notifications/read-all");
  });

  it("says so when there is nothing yet", async () => {
    serve(() => json(200, { items: [], page: 1, page_size: 20, total: 0, unread: 0 }));
    renderWithProviders(<NotificationList />);

    expect(await screen.findByText("No notifications yet.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Mark all read" })).toBeDisabled();
  });
});
