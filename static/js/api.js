// Talking to the DMS JSON API (/api/v1) and building DOM safely: data goes in as text, never as HTML.
import { t } from "./i18n.js";

export const API = "/api/v1";

/** The CSRF token of this page's session (a state-changing request from a browser must send it back). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** An error from the API ({error: {code, message}}) or from the network, readable by a person. */
export class ApiError extends Error {
  constructor(message, { code = "ERROR", status = 0, problems = [], where = null } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.problems = problems;
    this.where = where;
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML page, say): fall back to the status line.
  }
  const error = body && typeof body === "object" ? body.error : null;
  if (error && typeof error.message === "string") {
    return new ApiError(error.message, {
      code: String(error.code || "ERROR"),
      status: response.status,
      problems: Array.isArray(error.problems) ? error.problems : [],
      where: error.where || null,
    });
  }
  return new ApiError(t("The server answered {status} {reason}", { status: String(response.status), reason: response.statusText || "" }).trim(), {
    code: `HTTP_${response.status}`,
    status: response.status,
  });
}

/** Call the API: `api("GET", "/jobs")`, `api("POST", "/jobs", body)`; resolves to the JSON body (or null). */
export async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (method !== "GET" && method !== "HEAD") options.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path.startsWith("/api/") ? path : API + path, options);
  } catch {
    throw new ApiError(t("The server could not be reached; check the connection and try again."), {
      code: "NETWORK_ERROR",
    });
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return response.json();
}

/** POST a multipart form with upload progress (fetch() cannot report it); resolves to the parsed JSON or null. */
export function postForm(url, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    // Only to this origin: a presigned storage URL gets no token of ours.
    if (url.startsWith("/")) xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(t("The upload was interrupted; check the connection and try again."), { code: "NETWORK_ERROR" })),
    );
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr.responseText && xhr.status !== 204 ? safeJson(xhr.responseText) : null);
      } else if ((xhr.getResponseHeader("Content-Type") || "").includes("json")) {
        const response = new Response(xhr.responseText, {
          status: xhr.status,
          headers: { "Content-Type": "application/json" },
        });
        errorFrom(response).then(reject);
      } else {
        // S3 answers errors in XML: show its message element when there is one.
        const match = /<Message>([^<]{1,300})<\/Message>/.exec(xhr.responseText || "");
        reject(new ApiError(match ? t("Storage refused the upload: {message}", { message: match[1] }) : t("The upload failed ({status}).", { status: String(xhr.status) }), {
          code: `HTTP_${xhr.status}`,
          status: xhr.status,
        }));
      }
    });
    xhr.send(form);
  });
}

// Larger files go by presigned upload: API Gateway caps an inline request body at 10 MB (the server's
// MAX_INLINE_UPLOAD_BYTES, in every page's <meta>).
export const INLINE_UPLOAD_LIMIT =
  Number(document.querySelector('meta[name="dms-inline-upload-limit"]')?.content) || 10 * 1024 * 1024;

/** Upload a file, inline or (over INLINE_UPLOAD_LIMIT) presigned straight to storage; resolves to its record. */
export async function uploadFile(file, onProgress) {
  const form = new FormData();
  if (file.size <= INLINE_UPLOAD_LIMIT) {
    form.append("file", file, file.name);
    return postForm(`${API}/uploads`, form, onProgress);
  }
  const grant = await api("POST", "/uploads/presign", { filename: file.name, size: file.size });
  for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
  form.append(grant.file_field || "file", file, file.name); // S3 wants the file as the last field
  await postForm(grant.url, form, onProgress);
  return api("POST", grant.complete_url, { token: grant.token }); // the token is single-use
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Build an element: el("td", {class: "x", title: t}, "text", otherNode). Strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Show an error (ApiError or any Error) inside `box` as a readable alert; `null` clears it. */
export function showError(box, error, context = "") {
  box.replaceChildren();
  box.hidden = !error;
  if (!error) return;
  const code = error.code && error.code !== "ERROR" ? ` (${error.code})` : "";
  box.append(el("p", {}, el("strong", {}, context ? t("{context}: ", { context }) : ""), error.message || String(error), code));
  const problems = (error.problems || []).slice(0, 20);
  if (problems.length) {
    box.append(el("ul", {}, problems.map((p) => el("li", {}, problemText(p)))));
  }
}

/** One mapping problem ({severity, code, message, target}) as a sentence. */
export function problemText(problem) {
  const message = problem.message || problem.code;
  return problem.target ? t("{target}: {message}", { target: problem.target, message }) : message;
}
