import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EmailReminderSetting } from "@/features/notifications/components/email-reminder-setting";
import { dismissToast, getToasts } from "@/lib/toast-store";
import { setTokens } from "@/lib/tokens";
import { apiError, json, serve } from "@/testing/fake-server";
import { renderWithProviders } from "@/testing/render";

const SETTINGS_PATH = "/api/v1/notifications/settings";

/** An answer the test lets out when it wants to look at the page while the request is still out. */
function held() {
  let release: (response: Response) => void = () => {};
  const answer = new Promise<Response>((resolve) => {
    release = resolve;
  });
  return { answer, release };
}

function toastMessages() {
  return getToasts().map(({ kind, message }) => `${kind}: ${message}`);
}

describe("the e-mail reminders setting", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access", refreshToken: "refresh" });
  });

  afterEach(() => {
    getToasts().forEach(({ id }) => dismissToast(id));
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("shows the address, switches off at once, is disabled while saving, and says so when saved", async () => {
    const put = held();
    const requests = serve((request) =>
      request.method === "PUT" ? put.answer : json(200, { email: true, email_address: "ada@example.com" }),
    );
    renderWithProviders(<EmailReminderSetting />);

    const toggle = await screen.findByRole("switch", { name: "E-mail me reminders" });
    expect(toggle).toBeChecked();
    expect(toggle).toHaveAccessibleDescription("Reminders of tasks due soon also go to ada@example.com.");

    await userEvent.click(toggle);

    // Shown as chosen while the request is out, and not to be switched again until it is answered.
    await waitFor(() => expect(toggle).toBeDisabled());
    expect(toggle).not.toBeChecked();
    expect(requests.at(-1)).toMatchObject({ method: "PUT", path: SETTINGS_PATH, body: { email: false } });

    await act(async () => put.release(json(200, { email: false, email_address: "ada@example.com" })));

    await waitFor(() => expect(toggle).toBeEnabled());
    expect(toggle).not.toBeChecked();
    expect(toggle).toHaveAccessibleDescription(/^Reminders show here only\./);
    expect(toastMessages()).toContain("success: Reminders will no longer be e-mailed.");
  });

  it("goes back to what it was when the server refuses the change, and says why", async () => {
    const put = held();
    serve((request) => (request.method === "PUT" ? put.answer : json(200, { email: false, email_address: "ada@example.com" })));
    renderWithProviders(<EmailReminderSetting />);
    const toggle = await screen.findByRole("switch", { name: "E-mail me reminders" });
    expect(toggle).not.toBeChecked();

    await userEvent.click(toggle);
    await waitFor(() => expect(toggle).toBeDisabled());
    expect(toggle).toBeChecked();

    await act(async () => put.release(apiError(503, "SERVICE_UNAVAILABLE", "The service is busy, try again shortly")));

    await waitFor(() => expect(toggle).toBeEnabled());
    expect(toggle).not.toBeChecked();
    expect(toggle).toHaveAccessibleDescription(/^Reminders show here only\./);
    expect(toastMessages()).toContain("error: The service is busy, try again shortly");
  });

  it("says so when the setting cannot be loaded, and tries again on request", async () => {
    let fails = true;
    serve(() =>
      fails ? apiError(500, "INTERNAL_ERROR", "Something broke") : json(200, { email: true, email_address: "ada@example.com" }),
    );
    renderWithProviders(<EmailReminderSetting />);

    expect(await screen.findByText("Your e-mail setting could not be loaded.")).toBeInTheDocument();
    fails = false;
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));

    expect(await screen.findByRole("switch", { name: "E-mail me reminders" })).toBeChecked();
  });
});
