// Uploading a document: one file per request, so each gets its own progress (fetch reports no
// upload progress). Resolves with the document as the upload answered it ({id, status, …}).
import { session } from "./session.js";

export function uploadDocument(file, fields, onProgress) {
  return new Promise((resolve, reject) => {
    const state = session.get();
    const form = new FormData();
    form.append("files", file, file.name);
    for (const [key, value] of Object.entries(fields)) if (value) form.append(key, value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents/upload");
    xhr.setRequestHeader("Accept", "application/json");
    if (state.token) xhr.setRequestHeader("Authorization", `Bearer ${state.token}`);
    if (state.tenant) xhr.setRequestHeader("X-Sophon-Tenant", state.tenant);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status === 202) resolve(body.items[0]);
      else reject(new Error((body && body.error && body.error.message) || `Upload failed (${xhr.status}).`));
    };
    xhr.onerror = () => reject(new Error("The Gateway could not be reached."));
    xhr.send(form);
  });
}
