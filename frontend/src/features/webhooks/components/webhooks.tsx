import { useEffect, useState } from "react";
import type { CreatedWebhook } from "@/features/webhooks/api/webhook-types";
import { WebhookForm } from "@/features/webhooks/components/webhook-form";
import { WebhookList } from "@/features/webhooks/components/webhook-list";
import { WebhookSecret } from "@/features/webhooks/components/webhook-secret";

/** The webhooks page: add one, see its secret that once, and list, inspect and delete the user's webhooks. */
export function Webhooks() {
  // Every secret not yet put away: adding a second webhook must not hide the first one's, which cannot be shown again.
  const [unstored, setUnstored] = useState<CreatedWebhook[]>([]);

  // Closing or reloading the tab would lose a secret for good: the browser asks first while one is still shown.
  const secretShown = unstored.length > 0;
  useEffect(() => {
    if (!secretShown) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [secretShown]);

  return (
    <div>
      <div className="page-header">
        <h1>Webhooks</h1>
      </div>
      <p className="muted intro">
        A webhook sends a signed JSON POST to your URL when something happens to one of your tasks: the changes of the
        tasks, their files and their reminders, each as you choose.
      </p>
      {unstored.map((webhook) => (
        <WebhookSecret
          key={webhook.id}
          webhook={webhook}
          onDismiss={() => setUnstored((current) => current.filter((one) => one.id !== webhook.id))}
        />
      ))}
      <WebhookForm onCreated={(created) => setUnstored((current) => [created, ...current])} />
      <WebhookList />
    </div>
  );
}
