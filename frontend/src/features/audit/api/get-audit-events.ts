import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { components, paths } from "@/api/schema";
import { apiClient, unwrap } from "@/lib/api-client";

export type AuditEvent = components["schemas"]["AuditEvent"];
export type AuditQuery = NonNullable<paths["/api/v1/audit-events"]["get"]["parameters"]["query"]>;

export const AUDIT_EVENT_TYPES: AuditEvent["event_type"][] = [
  "TASK_CREATED",
  "TASK_UPDATED",
  "TASK_DELETED",
  "ATTACHMENT_ADDED",
  "ATTACHMENT_REMOVED",
  "REMINDER_SENT",
  "LOGIN",
  "PASSWORD_CHANGED",
  "LOGOUT",
];

export function useAuditEvents(query: AuditQuery) {
  return useQuery({
    queryKey: ["audit-events", query],
    queryFn: () => unwrap(apiClient.GET("/api/v1/audit-events", { params: { query } })),
    placeholderData: keepPreviousData,
    // Events are appended by every change elsewhere in the app: always fetch afresh when shown.
    staleTime: 0,
  });
}
