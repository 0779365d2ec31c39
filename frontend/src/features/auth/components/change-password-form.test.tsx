import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChangePasswordForm } from "@/features/auth/components/change-password-form";
import { setTokens } from "@/lib/tokens";
import { renderWithProviders } from "@/testing/render";

async function fill(current: string, next: string, confirmation: string) {
  if (current) await userEvent.type(screen.getByLabelText("Current password"), current);
  if (next) await userEvent.type(screen.getByLabelText("New password"), next);
  if (confirmation) await userEvent.type(screen.getByLabelText("Confirm new password"), confirmation);
  await userEvent.click(screen.getByRole("button", { name: "Change password" }));
}

describe("change password form", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("refuses a new password shorter than 8 characters without calling the API", async () => {
    const fetchSpy = vi.fn();
    vi.stubGlobal("fetch", fetchSpy);
    renderWithProviders(<ChangePasswordForm />);
    await fill("old-password", "short", "short");
    expect(screen.getByText("The new password must be at least 8 characters.")).toBeInTheDocument();
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("refuses a confirmation that does not match", async () => {
    const fetchSpy = vi.fn();
    vi.stubGlobal("fetch", fetchSpy);
    renderWithProviders(<ChangePasswordForm />);
    await fill("old-password", "new-password-1", "new-password-2");
    expect(screen.getByText("The passwords do not match.")).toBeInTheDocument();
    expect(screen.getByLabelText("Confirm new password")).toHaveAttribute("aria-invalid", "true");
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("sends the current and new password when both checks pass, then clears the form", async () => {
    setTokens({ accessToken: "a", refreshToken: "r" });
    const bodies: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (request: Request) => {
        bodies.push(await request.json());
        return new Response(null, { status: 204 });
      }),
    );
    const onSuccess = vi.fn();
    renderWithProviders(<ChangePasswordForm onSuccess={onSuccess} />);
    await fill("old-password", "new-password-1", "new-password-1");
    await waitFor(() => expect(onSuccess).toHaveBeenCalled());
    expect(bodies).toEqual([{ current_password: "old-password", new_password: "new-password-1" }]);
    expect(screen.getByLabelText("New password")).toHaveValue("");
  });

  it("shows the server's field error next to the current password", async () => {
    setTokens({ accessToken: "a", refreshToken: "r" });
    vi.stubGlobal(
      "fetch",
      vi.fn(
        async () =>
          new Response(
            JSON.stringify({
              error: {
                code: "VALIDATION_ERROR",
                message: "The request is not valid",
                details: { fields: { current_password: ["The current password is wrong."] } },
                correlation_id: "c1",
              },
            }),
            { status: 400, headers: { "Content-Type": "application/json" } },
          ),
      ),
    );
    renderWithProviders(<ChangePasswordForm />);
    await fill("wrong-password", "new-password-1", "new-password-1");
    expect(await screen.findByText("The current password is wrong.")).toHaveAttribute("id", "current_password-error");
  });
});
