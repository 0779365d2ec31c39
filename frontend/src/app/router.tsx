import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { AppLayout, PublicLayout } from "@/app/layout";
import { ChangePasswordPage, LoginPage, RegisterPage } from "@/app/routes/auth-pages";
import { NotificationsPage } from "@/app/routes/notification-pages";
import { AuditPage, EditTaskPage, NewTaskPage, TaskDetailPage, TaskListPage } from "@/app/routes/task-pages";
import { WebhooksPage } from "@/app/routes/webhook-pages";

const router = createBrowserRouter([
  {
    element: <PublicLayout />,
    children: [
      { path: "/login", element: <LoginPage /> },
      { path: "/register", element: <RegisterPage /> },
    ],
  },
  {
    element: <AppLayout />,
    children: [
      { path: "/", element: <Navigate to="/tasks" replace /> },
      { path: "/tasks", element: <TaskListPage /> },
      { path: "/tasks/new", element: <NewTaskPage /> },
      { path: "/tasks/:taskId", element: <TaskDetailPage /> },
      { path: "/tasks/:taskId/edit", element: <EditTaskPage /> },
      { path: "/change-password", element: <ChangePasswordPage /> },
      { path: "/audit", element: <AuditPage /> },
      { path: "/notifications", element: <NotificationsPage /> },
      { path: "/webhooks", element: <WebhooksPage /> },
      { path: "*", element: <Navigate to="/tasks" replace /> },
    ],
  },
]);

export function AppRouter() {
  return <RouterProvider router={router} />;
}
