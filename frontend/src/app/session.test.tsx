import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useLogout } from "@/app/session";
import { LOGOUT_WAIT_MS } from "@/features/auth/api/logout";
import { getTokens, setTokens } from "@/lib/tokens";
import { apiError, serve } from "@/testing/fake-server";

function LogOutButton() {
  const logout = useLogout();
  return (
    <button type="button" onClick={() => void logout()}>
      Log out
    </button>
  );
}

function renderSignedIn() {
  const queryClient = new QueryClient();
  queryClient.setQueryData(["me"], { email: "ada@example.com" });
  render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={["/tasks"]}>
        <Routes>
          <Route path="/tasks" element={<LogOutButton />} />
          <Route path="/login" element={<p>Login page</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return queryClient;
}

function expectSignedOut() {
  expect(getTokens()).toBeNull();
  expect(localStorage.getItem("tasktracker.tokens")).toBeNull();
}

describe("log out", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access-1", refreshToken: "refresh-1" });
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("ends the sign-in on the server with the stored refresh token, then forgets the tokens and the cache", async () => {
    const tokensWhenCalled: unknown[] = [];
    const requests = serve(() => {
      tokensWhenCalled.push(getTokens());
      return new Response(null, { status: 204 });
    });
    const queryClient = renderSignedIn();

    fireEvent.click(screen.getByRole("button", { name: "Log out" }));

    expect(await screen.findByText("Login page")).toBeInTheDocument();
    expect(requests.map(({ method, path, body }) => ({ method, path, body }))).toEqual([
      { method: "POST", path: "/api/v1/auth/logout", body: { refresh_token: "refresh-1" } },
    ]);
    // The refresh token is the proof: no bearer token is sent.
    expect(requests[0]?.headers.get("Authorization")).toBeNull();
    // The server was asked while this tab still held the tokens; they are gone afterwards.
    expect(tokensWhenCalled).toEqual([{ accessToken: "access-1", refreshToken: "refresh-1" }]);
    expectSignedOut();
    expect(queryClient.getQueryData(["me"])).toBeUndefined();
  });

  it("signs out here anyway when the network fails", async () => {
    const offline = vi.fn().mockRejectedValue(new TypeError("Failed to fetch"));
    vi.stubGlobal("fetch", offline);
    renderSignedIn();

    fireEvent.click(screen.getByRole("button", { name: "Log out" }));

    expect(await screen.findByText("Login page")).toBeInTheDocument();
    expect(offline).toHaveBeenCalledTimes(1);
    expectSignedOut();
  });

  it("never turns a refused sign-out into a refresh, and signs out here anyway", async () => {
    const requests = serve(() => apiError(401, "INVALID_REFRESH_TOKEN", "The refresh token is not valid"));
    renderSignedIn();

    fireEvent.click(screen.getByRole("button", { name: "Log out" }));

    expect(await screen.findByText("Login page")).toBeInTheDocument();
    expect(requests.map((request) => request.path)).toEqual(["/api/v1/auth/logout"]);
    expectSignedOut();
  });

  it("does not wait more than a few seconds for a server that does not answer", async () => {
    vi.useFakeTimers();
    const requests = serve(() => new Promise<Response>(() => {}));
    renderSignedIn();

    fireEvent.click(screen.getByRole("button", { name: "Log out" }));
    await act(() => vi.advanceTimersByTimeAsync(LOGOUT_WAIT_MS - 1));
    expect(getTokens()).not.toBeNull();
    await act(() => vi.advanceTimersByTimeAsync(1));

    expect(screen.getByText("Login page")).toBeInTheDocument();
    expect(requests).toHaveLength(1);
    expectSignedOut();
  });
});
