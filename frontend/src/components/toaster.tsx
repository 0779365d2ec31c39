import { useSyncExternalStore } from "react";
import { dismissToast, getToasts, subscribeToToasts } from "@/lib/toast-store";

export function Toaster() {
  const toasts = useSyncExternalStore(subscribeToToasts, getToasts);
  return (
    <div className="toaster" aria-live="polite">
      {toasts.map((toast) => (
        <div key={toast.id} className={`toast toast-${toast.kind}`} role={toast.kind === "error" ? "alert" : "status"}>
          <div>
            <p className="toast-message">{toast.message}</p>
            {toast.correlationId && <p className="toast-reference">Reference: {toast.correlationId}</p>}
          </div>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => dismissToast(toast.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
