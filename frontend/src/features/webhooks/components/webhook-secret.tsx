import { useEffect, useRef, useState } from "react";
import type { CreatedWebhook } from "@/features/webhooks/api/webhook-types";
import { toast } from "@/lib/toast-store";

/**
 * A new webhook's secret, shown this once: the API gives it only in its answer to the create. It stays until the
 * user says they have stored it.
 */
export function WebhookSecret({ webhook, onDismiss }: { webhook: CreatedWebhook; onDismiss: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const secretInput = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const headingId = `secret-heading-${webhook.id}`;

  // It appears above the form just used: bring it into view and have it read out.
  useEffect(() => heading.current?.focus(), []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(webhook.secret);
      setCopied(true);
      toast.success("Secret copied.");
    } catch {
      // No clipboard (a page not served over https, or permission refused): leave it ready to copy by hand.
      secretInput.current?.select();
      toast.error(new Error("The secret could not be copied: it is selected, copy it with your keyboard."));
    }
  }

  return (
    <section className="card secret-panel" aria-labelledby={headingId} data-testid="webhook-secret-panel">
      <h2 id={headingId} ref={heading} tabIndex={-1}>
        Signing secret for {webhook.url}
      </h2>
      <p className="secret-warning">
        <strong>Store this secret now: you will not see it again.</strong> Task Tracker keeps no way to show it later;
        if it is lost, delete the webhook and add it again.
      </p>
      <div className="secret-row">
        <label htmlFor={`secret-${webhook.id}`} className="visually-hidden">
          Webhook secret
        </label>
        <input
          id={`secret-${webhook.id}`}
          ref={secretInput}
          className="secret-value"
          readOnly
          value={webhook.secret}
          spellCheck={false}
          data-testid="webhook-secret"
          onFocus={(event) => event.target.select()}
        />
        <button type="button" className="button" onClick={() => void copy()}>
          {copied ? "Copied" : "Copy secret"}
        </button>
      </div>
      <p className="muted">
        Every delivery carries <code>X-TaskTracker-Signature: sha256=…</code>, the hex HMAC-SHA256 of the raw request body keyed
        with this secret: compute it on your side and compare before trusting a delivery.
      </p>
      <div className="actions">
        <button type="button" className="button primary" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
    </section>
  );
}
