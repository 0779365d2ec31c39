/** Access and refresh tokens: kept in memory for speed, mirrored to localStorage so a reload stays signed in. */
export type TokenPair = { accessToken: string; refreshToken: string };

const STORAGE_KEY = "tasktracker.tokens";

let current: TokenPair | null = readStored();
const listeners = new Set<() => void>();

function readStored(): TokenPair | null {
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<TokenPair>;
    return parsed.accessToken && parsed.refreshToken
      ? { accessToken: parsed.accessToken, refreshToken: parsed.refreshToken }
      : null;
  } catch {
    return null;
  }
}

export function getTokens(): TokenPair | null {
  return current;
}

export function setTokens(tokens: TokenPair): void {
  current = tokens;
  localStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
  listeners.forEach((listener) => listener());
}

export function clearTokens(): void {
  current = null;
  localStorage.removeItem(STORAGE_KEY);
  listeners.forEach((listener) => listener());
}

/**
 * Tabs share one sign-in: when another tab refreshes or signs out, this one takes its tokens at once. A tab
 * left with a refresh token another tab already traded would otherwise send it later, after the server's
 * short grace for concurrent refreshes, and the server would end the whole sign-in as if a copy were stolen.
 */
function followOtherTabs(event: StorageEvent): void {
  // key is null when another tab cleared the whole storage.
  if (event.key !== null && event.key !== STORAGE_KEY) return;
  current = readStored();
  listeners.forEach((listener) => listener());
}

if (typeof window !== "undefined") window.addEventListener("storage", followOtherTabs);

export function subscribeToTokens(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
