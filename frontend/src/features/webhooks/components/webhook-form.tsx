import { useRef, useState, type FormEvent } from "react";
import { TextField } from "@/components/form-field";
import { useCreateWebhook } from "@/features/webhooks/api/create-webhook";
import { WEBHOOK_EVENTS, type CreatedWebhook, type WebhookEvent } from "@/features/webhooks/api/webhook-types";
import { validateWebhook } from "@/features/webhooks/utils/webhook-validation";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

const ALL_EVENTS = WEBHOOK_EVENTS.map(({ event }) => event);
// Refusals of the URL itself: the server's message belongs on the URL field even without a field list.
const URL_ERROR_CODES = new Set(["WEBHOOK_URL_INVALID", "WEBHOOK_TARGET_NOT_ALLOWED"]);

function serverFieldErrors(error: unknown): Record<string, string[]> {
  if (!(error instanceof ApiError)) return {};
  const fields = error.fieldErrors;
  if (!fields.url?.length && URL_ERROR_CODES.has(error.code)) fields.url = [error.message];
  return fields;
}

/** Adds a webhook; `onCreated` gets the answer, whose secret is shown nowhere else. */
export function WebhookForm({ onCreated }: { onCreated: (webhook: CreatedWebhook) => void }) {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<WebhookEvent[]>(ALL_EVENTS);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const urlInput = useRef<HTMLInputElement>(null);
  const createWebhook = useCreateWebhook();

  function forget(field: string) {
    // An edited field's old complaint no longer applies; the next submit checks it again.
    setErrors((current) => Object.fromEntries(Object.entries(current).filter(([name]) => name !== field)));
  }

  function toggle(event: WebhookEvent, checked: boolean) {
    // Kept in the offered order, whatever order they were ticked in.
    setEvents((current) => ALL_EVENTS.filter((one) => (one === event ? checked : current.includes(one))));
    forget("events");
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validateWebhook({ url, events });
    setErrors(found);
    if (found.url) urlInput.current?.focus();
    if (Object.keys(found).length) return;
    createWebhook.mutate(
      { url: url.trim(), events },
      {
        onSuccess: (created) => {
          toast.success("Webhook added.");
          setUrl("");
          setEvents(ALL_EVENTS);
          onCreated(created);
        },
        onError: (error) => {
          const fields = serverFieldErrors(error);
          if (!Object.keys(fields).length) return toast.error(error);
          setErrors(fields);
          if (fields.url) urlInput.current?.focus();
        },
      },
    );
  }

  const eventErrors = errors.events ?? [];
  return (
    <form className="card webhook-form" onSubmit={submit} noValidate aria-labelledby="new-webhook-heading">
      <h2 id="new-webhook-heading">Add a webhook</h2>
      <TextField
        id="webhook-url"
        ref={urlInput}
        label="Payload URL"
        hint="Each event is POSTed here as JSON."
        errors={errors.url}
        type="url"
        inputMode="url"
        autoComplete="off"
        spellCheck={false}
        placeholder="https://example.com/hooks/task-tracker"
        value={url}
        onChange={(change) => {
          setUrl(change.target.value);
          forget("url");
        }}
      />
      <fieldset
        className="checkbox-group"
        aria-invalid={eventErrors.length ? true : undefined}
        aria-describedby={eventErrors.length ? "webhook-events-error" : undefined}
      >
        <legend>Events to send</legend>
        {WEBHOOK_EVENTS.map(({ event, label }) => (
          <label key={event} className="check">
            <input type="checkbox" checked={events.includes(event)} onChange={(change) => toggle(event, change.target.checked)} />
            {label} <code className="event-name">{event}</code>
          </label>
        ))}
      </fieldset>
      {eventErrors.length > 0 && (
        <p id="webhook-events-error" className="field-error" role="alert">
          {eventErrors.join(" ")}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button primary" disabled={createWebhook.isPending}>
          {createWebhook.isPending ? "Adding…" : "Add webhook"}
        </button>
      </div>
    </form>
  );
}
