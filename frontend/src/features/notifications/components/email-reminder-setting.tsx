import { Spinner } from "@/components/spinner";
import {
  useNotificationSettings,
  useSaveNotificationSettings,
  type NotificationSettings,
} from "@/features/notifications/api/notification-settings";
import { toast } from "@/lib/toast-store";

// The API always names the address; its schema only marks it read-only, which leaves it optional in the types.
function addressOf(settings: NotificationSettings): string {
  return settings.email_address ?? "your e-mail address";
}

/** Whether due-soon reminders also go to the user's e-mail address: saved as soon as it is switched. */
export function EmailReminderSetting() {
  const settings = useNotificationSettings();
  const save = useSaveNotificationSettings();

  function change(email: boolean) {
    save.mutate(email, {
      onSuccess: (saved) =>
        toast.success(saved.email ? `Reminders will also be e-mailed to ${addressOf(saved)}.` : "Reminders will no longer be e-mailed."),
      onError: (error) => toast.error(error),
    });
  }

  return (
    <section className="card setting" aria-labelledby="email-reminders-heading">
      <h2 id="email-reminders-heading" className="visually-hidden">
        E-mail reminders
      </h2>
      {settings.isPending ? (
        <Spinner label="Loading your e-mail setting…" />
      ) : settings.isError ? (
        <div className="setting-row">
          <p className="muted">Your e-mail setting could not be loaded.</p>
          <button type="button" className="button small" onClick={() => void settings.refetch()}>
            Try again
          </button>
        </div>
      ) : (
        <div className="setting-row">
          <label className="switch">
            <input
              type="checkbox"
              role="switch"
              checked={settings.data.email}
              disabled={save.isPending}
              aria-describedby="email-reminders-hint"
              onChange={(event) => change(event.target.checked)}
            />
            <span className="switch-track" aria-hidden="true" />
            E-mail me reminders
          </label>
          <p id="email-reminders-hint" className="muted">
            {settings.data.email ? (
              <>
                Reminders of tasks due soon also go to <strong>{addressOf(settings.data)}</strong>.
              </>
            ) : (
              <>
                Reminders show here only. Switch this on to get them at <strong>{addressOf(settings.data)}</strong> too.
              </>
            )}
            {save.isPending && " Saving…"}
          </p>
        </div>
      )}
    </section>
  );
}
