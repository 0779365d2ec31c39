import { ApiError, errorMessage } from "@/lib/api-error";

export type Toast = { id: number; kind: "success" | "error"; message: string; correlationId?: string | null };

const TOAST_LIFETIME_MS = 6000;

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();

function publish(next: Toast[]): void {
  toasts = next;
  listeners.forEach((listener) => listener());
}

export function dismissToast(id: number): void {
  publish(toasts.filter((toast) => toast.id !== id));
}

function push(toast: Omit<Toast, "id">): void {
  const id = nextId++;
  publish([...toasts, { ...toast, id }]);
  setTimeout(() => dismissToast(id), TOAST_LIFETIME_MS);
}

export const toast = {
  success(message: string): void {
    push({ kind: "success", message });
  },
  error(error: unknown): void {
    push({
      kind: "error",
      message: errorMessage(error),
      correlationId: error instanceof ApiError ? error.correlationId : null,
    });
  },
};

export function getToasts(): Toast[] {
  return toasts;
}

export function subscribeToToasts(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
