import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DELIVERY_POLL_MS } from "@/features/webhooks/api/get-deliveries";
import type { CreatedWebhook, Webhook, WebhookDelivery } from "@/features/webhooks/api/webhook-types";
import { Webhooks } from "@/features/webhooks/components/webhooks";
import { dismissToast, getToasts } from "@/lib/toast-store";
import { setTokens } from "@/lib/tokens";
import { json, serve } from "@/testing/fake-server";
import { renderWithProviders } from "@/testing/render";

const ALL_EVENTS = ["task.created", "task.updated", "task.deleted", "attachment.added", "attachment.removed", "reminder.sent"];
const SECRET = "whsec_7f3a9c1d2e4b5a6f";
const existing: Webhook = {
  id: "w1",
  url: "https://hooks.example.com/tasks",
  events: ["task.created", "task.deleted"],
  created_at: "2030-01-01T09:00:00+00:00",
};
const delivered: WebhookDelivery = {
  id: "d2",
  event: "task.created",
  status: "delivered",
  attempts: 1,
  last_response_code: 200,
  last_error: null,
  created_at: "2030-01-02T09:00:00+00:00",
  last_attempt_at: "2030-01-02T09:00:01+00:00",
  delivered_at: "2030-01-02T09:00:01+00:00",
};
const failing: WebhookDelivery = {
  ...delivered,
  id: "d1",
  event: "task.deleted",
  status: "pending",
  attempts: 3,
  last_response_code: null,
  last_error: "Connection refused",
  created_at: "2030-01-01T10:00:00+00:00",
  delivered_at: null,
};

type Refusal = { status: number; code: string; message: string; fields?: Record<string, string[]> };

type Held = { webhooks?: Webhook[]; deliveries?: WebhookDelivery[] };

/**
 * The user's webhooks as the API keeps them: creating answers the secret once, the list never carries it.
 * While `state.refuse` is set, a create is refused as the server would refuse it.
 */
function server({ webhooks = [existing], deliveries = [delivered, failing] }: Held = {}) {
  const state = { webhooks: [...webhooks], deliveries: [...deliveries], refuse: null as Refusal | null };
  const requests = serve(async (request) => {
    const url = new URL(request.url);
    const [, , , , webhookId, sub] = url.pathname.split("/");
    if (request.method === "POST") {
      if (state.refuse) {
        const { status, code, message, fields } = state.refuse;
        const details = fields ? { fields } : {};
        return json(status, { error: { code, message, details, correlation_id: "c-refused" } });
      }
      const body = (await request.json()) as Pick<Webhook, "url" | "events">;
      const listed: Webhook = { id: "w2", ...body, created_at: "2030-01-03T09:00:00+00:00" };
      state.webhooks = [listed, ...state.webhooks];
      const created: CreatedWebhook = { ...listed, secret: SECRET };
      return json(201, created);
    }
    if (request.method === "DELETE") {
      state.webhooks = state.webhooks.filter((webhook) => webhook.id !== webhookId);
      return new Response(null, { status: 204 });
    }
    if (sub === "deliveries") return json(200, { items: state.deliveries, page: 1, page_size: 20, total: state.deliveries.length });
    return json(200, { items: state.webhooks, page: 1, page_size: 20, total: state.webhooks.length });
  });
  return { state, requests };
}

/** Whether the page asks the browser to confirm before the tab is closed or reloaded. */
function holdsTheTab(): boolean {
  const leaving = new Event("beforeunload", { cancelable: true });
  window.dispatchEvent(leaving);
  return leaving.defaultPrevented;
}

function toastMessages() {
  return getToasts().map(({ kind, message }) => `${kind}: ${message}`);
}

describe("the webhooks page", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access", refreshToken: "refresh" });
  });

  afterEach(() => {
    getToasts().forEach(({ id }) => dismissToast(id));
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("lists the user's webhooks with their events and when they were added", async () => {
    server();
    renderWithProviders(<Webhooks />);

    const [item] = await screen.findAllByTestId("webhook");
    if (!item) throw new Error("the webhook should be listed");
    expect(within(item).getByText("https://hooks.example.com/tasks")).toBeInTheDocument();
    expect(within(item).getByText("task.created")).toBeInTheDocument();
    expect(within(item).getByText("task.deleted")).toBeInTheDocument();
    expect(within(item).queryByText("task.updated")).not.toBeInTheDocument();
    expect(within(item).getByText(/^Added /)).toBeInTheDocument();
  });

  it("adds one with every event ticked by default, shows its secret once, and the list never shows it", async () => {
    const { requests } = server({ webhooks: [] });
    renderWithProviders(<Webhooks />);
    expect(await screen.findByText("No webhooks yet.")).toBeInTheDocument();
    const form = within(screen.getByRole("form", { name: "Add a webhook" }));
    expect(form.getAllByRole("checkbox").map((box) => (box as HTMLInputElement).checked)).toEqual(ALL_EVENTS.map(() => true));

    await userEvent.type(form.getByLabelText("Payload URL"), "  https://receiver.example.com/hook ");
    await userEvent.click(form.getByRole("button", { name: "Add webhook" }));

    const panel = await screen.findByTestId("webhook-secret-panel");
    expect(within(panel).getByLabelText("Webhook secret")).toHaveValue(SECRET);
    expect(within(panel).getByRole("heading")).toHaveTextContent("Signing secret for https://receiver.example.com/hook");
    expect(panel).toHaveTextContent("you will not see it again");
    expect(requests.find(({ method }) => method === "POST")).toMatchObject({
      path: "/api/v1/webhooks",
      body: { url: "https://receiver.example.com/hook", events: ALL_EVENTS },
    });
    // The form is ready for the next one.
    expect(form.getByLabelText("Payload URL")).toHaveValue("");

    const item = await screen.findByTestId("webhook");
    expect(within(item).getByText("https://receiver.example.com/hook")).toBeInTheDocument();
    expect(item).not.toHaveTextContent(SECRET);

    expect(holdsTheTab()).toBe(true);

    await userEvent.click(within(panel).getByRole("button", { name: "I have stored it" }));

    expect(screen.queryByTestId("webhook-secret-panel")).not.toBeInTheDocument();
    expect(holdsTheTab()).toBe(false);
    expect(document.body).not.toHaveTextContent(SECRET);
    expect(screen.queryByDisplayValue(SECRET)).not.toBeInTheDocument();
    expect(screen.getByTestId("webhook")).toBeInTheDocument();
  });

  it("copies the secret to the clipboard", async () => {
    server({ webhooks: [] });
    renderWithProviders(<Webhooks />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Payload URL"), "https://receiver.example.com/hook");
    await user.click(screen.getByRole("button", { name: "Add webhook" }));

    await user.click(await screen.findByRole("button", { name: "Copy secret" }));

    expect(await navigator.clipboard.readText()).toBe(SECRET);
    expect(await screen.findByRole("button", { name: "Copied" })).toBeInTheDocument();
  });

  it("checks the URL and the events before sending anything", async () => {
    const { requests } = server({ webhooks: [] });
    renderWithProviders(<Webhooks />);
    await screen.findByText("No webhooks yet.");
    const url = screen.getByLabelText("Payload URL");

    await userEvent.click(screen.getByRole("button", { name: "Add webhook" }));
    expect(screen.getByText("Enter the URL the events are sent to.")).toHaveAttribute("id", "webhook-url-error");

    await userEvent.type(url, "ftp://files.example.com/in");
    for (const box of screen.getAllByRole("checkbox")) await userEvent.click(box);
    await userEvent.click(screen.getByRole("button", { name: "Add webhook" }));

    expect(url).toHaveAttribute("aria-invalid", "true");
    expect(url).toHaveAccessibleDescription(/Enter a full http:\/\/ or https:\/\/ URL/);
    expect(url).toHaveFocus();
    expect(screen.getByText("Choose at least one event.")).toBeInTheDocument();
    expect(requests.filter(({ method }) => method === "POST")).toHaveLength(0);

    await userEvent.click(screen.getByRole("checkbox", { name: /^Task updated/ }));
    expect(screen.queryByText("Choose at least one event.")).not.toBeInTheDocument();
  });

  it("shows the server's refusal of a private address on the URL field", async () => {
    const { state } = server({ webhooks: [] });
    state.refuse = {
      status: 400,
      code: "WEBHOOK_TARGET_NOT_ALLOWED",
      message: "The request is not valid",
      fields: { url: ["This URL resolves to a private address, which webhooks may not call."] },
    };
    renderWithProviders(<Webhooks />);
    await screen.findByText("No webhooks yet.");
    const url = screen.getByLabelText("Payload URL");

    await userEvent.type(url, "http://10.0.0.5/hook");
    await userEvent.click(screen.getByRole("button", { name: "Add webhook" }));

    expect(await screen.findByText("This URL resolves to a private address, which webhooks may not call.")).toHaveAttribute(
      "id",
      "webhook-url-error",
    );
    expect(url).toHaveAttribute("aria-invalid", "true");
    expect(url).toHaveValue("http://10.0.0.5/hook");
    expect(screen.queryByTestId("webhook-secret-panel")).not.toBeInTheDocument();

    // Without a list of fields, a refusal of the URL still lands on the URL field.
    state.refuse = { status: 400, code: "WEBHOOK_URL_INVALID", message: "The URL has no host." };
    await userEvent.click(screen.getByRole("button", { name: "Add webhook" }));
    expect(await screen.findByText("The URL has no host.")).toHaveAttribute("id", "webhook-url-error");
  });

  it("deletes a webhook only once the user confirms, and takes it off the list", async () => {
    const { requests } = server();
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(false);
    renderWithProviders(<Webhooks />);
    const remove = await screen.findByRole("button", { name: "Delete the webhook to https://hooks.example.com/tasks" });

    await userEvent.click(remove);
    expect(confirm).toHaveBeenCalledWith(
      "Delete the webhook to https://hooks.example.com/tasks? Nothing more is sent to it, and this cannot be undone.",
    );
    expect(requests.filter(({ method }) => method === "DELETE")).toHaveLength(0);
    expect(screen.getByTestId("webhook")).toBeInTheDocument();

    confirm.mockReturnValue(true);
    await userEvent.click(remove);

    expect(await screen.findByText("No webhooks yet.")).toBeInTheDocument();
    expect(requests.filter(({ method }) => method === "DELETE").map(({ path }) => path)).toEqual(["/api/v1/webhooks/w1"]);
    expect(toastMessages()).toContain("success: Webhook deleted.");
  });

  it("shows a webhook's recent deliveries on request, and asks again every few seconds while they are shown", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const { state, requests } = server();
    renderWithProviders(<Webhooks />);
    const open = await screen.findByRole("button", { name: "Recent deliveries of https://hooks.example.com/tasks" });
    expect(open).toHaveAttribute("aria-expanded", "false");

    await userEvent.click(open);

    expect(open).toHaveAttribute("aria-expanded", "true");
    const rows = await screen.findAllByTestId("delivery");
    expect(rows.map((row) => within(row).getAllByRole("cell").slice(0, 4).map((cell) => cell.textContent))).toEqual([
      ["task.created", "Delivered", "1", "HTTP 200"],
      ["task.deleted", "Pending", "3", "Connection refused"],
    ]);
    expect(requests.at(-1)?.path).toBe("/api/v1/webhooks/w1/deliveries");

    state.deliveries = [{ ...failing, status: "failed", attempts: 8, last_response_code: 500, last_error: "Server error" }];
    await act(() => vi.advanceTimersByTimeAsync(DELIVERY_POLL_MS));
    await waitFor(() => expect(screen.getAllByTestId("delivery")).toHaveLength(1));
    const [row] = screen.getAllByTestId("delivery");
    expect(row).toHaveTextContent("Failed");
    expect(row).toHaveTextContent("HTTP 500");
    expect(row).toHaveTextContent("Server error");

    await userEvent.click(screen.getByRole("button", { name: "Hide deliveries of https://hooks.example.com/tasks" }));
    const asked = requests.length;
    await act(() => vi.advanceTimersByTimeAsync(DELIVERY_POLL_MS * 2));
    expect(requests.length).toBe(asked);
  });

  it("says so when a webhook has no deliveries yet", async () => {
    server({ deliveries: [] });
    renderWithProviders(<Webhooks />);

    await userEvent.click(await screen.findByRole("button", { name: /^Recent deliveries/ }));

    expect(await screen.findByText("No deliveries yet.")).toBeInTheDocument();
  });
});
