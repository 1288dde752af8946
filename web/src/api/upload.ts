// A file to S3 through the API's presigned POST, with progress (XMLHttpRequest reports upload
// progress; fetch does not). Resolves with the upload id once the API has checked the file.
import { api, ApiError } from "./client";
import type { Upload, UploadForm } from "./types";

export async function uploadFile(file: File, onProgress: (pct: number) => void): Promise<string> {
  const form = await api<UploadForm>("/v1/uploads", {
    method: "POST", body: { filename: file.name, content_type: file.type, size_bytes: file.size },
  });
  await new Promise<void>((resolve, reject) => {
    const body = new FormData();
    for (const [k, v] of Object.entries(form.fields)) body.append(k, v);
    body.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.url);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100)); };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300
      ? resolve() : reject(new ApiError(xhr.status, "upload_failed", `Storage refused the file (HTTP ${xhr.status})`)));
    xhr.onerror = () => reject(new ApiError(0, "upload_failed", "The upload did not reach storage"));
    xhr.send(body);
  });
  onProgress(100);
  const checked = await api<Upload>(`/v1/uploads/${form.id}`);
  if (checked.status !== "uploaded") {
    throw new ApiError(422, "upload_rejected", checked.reason ?? `The upload is ${checked.status}`);
  }
  return form.id;
}
