import { act, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { UNREAD_POLL_MS } from "@/features/notifications/api/get-notifications";
import { NotificationBell } from "@/features/notifications/components/notification-bell";
import { setTokens } from "@/lib/tokens";
import { json, serve } from "@/testing/fake-server";
import { renderWithProviders } from "@/testing/render";

/** The server's answer to the bell's question: one item's page, carrying the user's unread count. */
function unreadAnswer(unread: number) {
  return json(200, { items: [], page: 1, page_size: 1, total: unread, unread });
}

describe("the notification bell", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access", refreshToken: "refresh" });
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("shows the unread count and links to the notifications page", async () => {
    const urls: URL[] = [];
    serve((request) => {
      urls.push(new URL(request.url));
      return unreadAnswer(3);
    });
    renderWithProviders(<NotificationBell />);

    const bell = await screen.findByRole("link", { name: "Notifications, 3 unread" });
    expect(bell).toHaveAttribute("href", "/notifications");
    expect(screen.getByTestId("unread-count")).toHaveTextContent("3");
    const [asked] = urls;
    expect(asked?.pathname).toBe("/api/v1/notifications");
    expect(Object.fromEntries(asked?.searchParams ?? [])).toEqual({ unread: "true", page_size: "1" });
  });

  it("shows no count when nothing is unread, and caps a large one", async () => {
    let unread = 0;
    serve(() => unreadAnswer(unread));
    const view = renderWithProviders(<NotificationBell />);
    expect(await screen.findByRole("link", { name: "Notifications" })).toBeInTheDocument();
    expect(screen.queryByTestId("unread-count")).not.toBeInTheDocument();

    view.unmount();
    unread = 250;
    renderWithProviders(<NotificationBell />);
    expect(await screen.findByTestId("unread-count")).toHaveTextContent("99+");
  });

  it("asks again every 30 seconds and when the window comes back into focus", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let unread = 1;
    const requests = serve(() => unreadAnswer(unread));
    renderWithProviders(<NotificationBell />);
    expect(await screen.findByRole("link", { name: "Notifications, 1 unread" })).toBeInTheDocument();

    unread = 2;
    await act(() => vi.advanceTimersByTimeAsync(UNREAD_POLL_MS));
    expect(await screen.findByRole("link", { name: "Notifications, 2 unread" })).toBeInTheDocument();
    expect(UNREAD_POLL_MS).toBe(30_000);

    unread = 5;
    const before = requests.length;
    await act(async () => {
      window.dispatchEvent(new Event("visibilitychange"));
    });
    expect(await screen.findByRole("link", { name: "Notifications, 5 unread" })).toBeInTheDocument();
    expect(requests.length).toBe(before + 1);
  });
});
