import { refreshSession } from "@/lib/api-client";
import { ApiError } from "@/lib/api-error";
import { getTokens } from "@/lib/tokens";
import type { components } from "@/api/schema";

export type Attachment = components["schemas"]["Attachment"];

function send(taskId: string, file: File, onProgress: (fraction: number) => void): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/v1/tasks/${encodeURIComponent(taskId)}/attachments`);
    const accessToken = getTokens()?.accessToken;
    if (accessToken) request.setRequestHeader("Authorization", `Bearer ${accessToken}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => resolve(request);
    request.onerror = () => reject(new Error("The upload failed: the network connection was lost."));
    const form = new FormData();
    form.append("file", file);
    request.send(form);
  });
}

function toApiError(request: XMLHttpRequest): ApiError {
  let body: unknown = null;
  try {
    body = JSON.parse(request.responseText);
  } catch {
    // nginx or a proxy may answer with a non-JSON page.
  }
  return ApiError.fromBody(request.status, body, request.getResponseHeader("X-Correlation-ID"));
}

/**
 * XMLHttpRequest rather than fetch because only it reports upload progress.
 * It follows the API client's rules: the token attached, one refresh and retry on 401.
 */
export async function uploadAttachment(taskId: string, file: File, onProgress: (fraction: number) => void): Promise<Attachment> {
  let request = await send(taskId, file, onProgress);
  if (request.status === 401 && (await refreshSession())) request = await send(taskId, file, onProgress);
  if (request.status < 200 || request.status >= 300) throw toApiError(request);
  return JSON.parse(request.responseText) as Attachment;
}
