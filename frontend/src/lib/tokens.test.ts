import { afterEach, describe, expect, it, vi } from "vitest";
import { clearTokens, getTokens, setTokens, subscribeToTokens } from "@/lib/tokens";

const STORAGE_KEY = "tasktracker.tokens";

/** What the browser does in this tab when another tab of the same origin writes localStorage. */
function anotherTabWrites(value: string | null, key: string | null = STORAGE_KEY): void {
  if (key === null) localStorage.clear();
  else if (value === null) localStorage.removeItem(key);
  else localStorage.setItem(key, value);
  window.dispatchEvent(new StorageEvent("storage", { key, newValue: value }));
}

describe("tokens shared between tabs", () => {
  afterEach(() => clearTokens());

  it("takes the tokens another tab stored after its refresh", () => {
    setTokens({ accessToken: "a1", refreshToken: "r1" });
    const listener = vi.fn();
    const unsubscribe = subscribeToTokens(listener);

    anotherTabWrites(JSON.stringify({ accessToken: "a2", refreshToken: "r2" }));

    expect(getTokens()).toEqual({ accessToken: "a2", refreshToken: "r2" });
    expect(listener).toHaveBeenCalledTimes(1);
    unsubscribe();
  });

  it("signs out when another tab signs out or clears the storage", () => {
    setTokens({ accessToken: "a1", refreshToken: "r1" });
    anotherTabWrites(null);
    expect(getTokens()).toBeNull();

    setTokens({ accessToken: "a1", refreshToken: "r1" });
    anotherTabWrites(null, null);
    expect(getTokens()).toBeNull();
  });

  it("ignores other keys", () => {
    setTokens({ accessToken: "a1", refreshToken: "r1" });
    anotherTabWrites("dark", "theme");
    expect(getTokens()).toEqual({ accessToken: "a1", refreshToken: "r1" });
  });
});
