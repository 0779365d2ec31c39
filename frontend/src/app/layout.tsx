import { NavLink, Navigate, Outlet } from "react-router";
import { Spinner } from "@/components/spinner";
import { useIsSignedIn, useLogout } from "@/app/session";
import { useMe } from "@/features/auth/api/get-me";
import { NotificationBell } from "@/features/notifications/components/notification-bell";

/** The signed-in shell: header with the user and logout; anyone signed out is sent to /login. */
export function AppLayout() {
  const signedIn = useIsSignedIn();
  const me = useMe(signedIn);
  const logout = useLogout();

  if (!signedIn) return <Navigate to="/login" replace />;

  return (
    <div className="shell">
      <header className="app-header">
        <NavLink to="/tasks" className="brand">
          Task Tracker
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/tasks" end>
            Tasks
          </NavLink>
          <NavLink to="/audit">Audit log</NavLink>
          <NavLink to="/change-password">Change password</NavLink>
        </nav>
        <div className="user">
          <NavLink to="/webhooks" className="header-link">
            Webhooks
          </NavLink>
          <NotificationBell />
          <span className="user-email" data-testid="current-user">
            {me.data?.email ?? "…"}
          </span>
          <button type="button" className="button small" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <main className="content">{me.isPending ? <Spinner /> : <Outlet />}</main>
    </div>
  );
}

export function PublicLayout() {
  return (
    <main className="public">
      <Outlet />
    </main>
  );
}
