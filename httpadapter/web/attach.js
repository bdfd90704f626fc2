// attach.js: Attachkit's browser client, a dependency-free ES module.
// Served by httpadapter at GET {prefix}/attach.js; uses only the public
// HTTP API (API.md).
//
//   import { Client } from "/v1/attach.js";
//   const client = new Client({ baseUrl: "/v1", apiKey: "dev-key" });
//   const ctl = new AbortController();              // ctl.abort() cancels
//   const file = await client.upload(input.files[0], {
//     signal: ctl.signal,
//     onProgress: (p) => console.log(p.phase, p.loaded, p.total),
//   });
//
// Uploads go presign -> PUT (XMLHttpRequest, for upload progress) ->
// confirm -> poll status until ready. Network errors, 429 and 502/503/504
// are retried with exponential backoff and jitter (429 honours
// Retry-After). Errors are AttachError values carrying the API's code.

/** Messages for the API's error codes, for people. */
const MESSAGES = {
  invalid_request: "The request was not valid.",
  invalid_file_type: "This type of file is not allowed.",
  file_too_large: "The file is too large.",
  unauthorized: "The API key is missing or not valid.",
  forbidden: "You are not allowed to do that.",
  not_found: "The file does not exist (any more).",
  upload_incomplete: "The upload did not finish; try again.",
  version_conflict: "Someone else changed the file first; reload and try again.",
  conflict: "The file is not available yet (still processing, or quarantined).",
  upload_url_expired: "The upload link expired; try again.",
  payload_too_large: "The request was too large.",
  range_not_satisfiable: "The requested range is not available.",
  content_mismatch: "The file's content does not match its name or type.",
  rate_limited: "Too many requests; wait a moment and try again.",
  internal: "The server had a problem; try again later.",
  network: "The server could not be reached; check the connection.",
  aborted: "Cancelled.",
};

/** An error from the API (or a local pre-check) with the API's code. */
export class AttachError extends Error {
  constructor(code, message, { status = 0, details = {}, retryAfter = 0 } = {}) {
    super(message || MESSAGES[code] || code);
    this.name = "AttachError";
    this.code = code;
    this.status = status;
    this.details = details || {};
    this.retryAfter = retryAfter;
  }
}

/** describeError turns any error into one sentence for people. */
export function describeError(err) {
  if (!(err instanceof AttachError)) return err && err.message ? err.message : String(err);
  const d = err.details || {};
  switch (err.code) {
    case "file_too_large":
      return d.maxSize
        ? `The file is too large (${formatSize(d.actualSize || 0)}); the limit is ${formatSize(d.maxSize)}.`
        : MESSAGES.file_too_large;
    case "invalid_file_type":
      return Array.isArray(d.allowedTypes) && d.allowedTypes.length
        ? `${err.message} Allowed: ${d.allowedTypes.join(", ")}.`
        : err.message;
    case "unauthorized":
    case "network":
    case "aborted":
    case "internal":
      return MESSAGES[err.code];
  }
  return err.message || MESSAGES[err.code] || err.code;
}

/** formatSize shows a byte count the way the API does ("512 KB"). */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} ${units[i]}`;
}

/** typeAllowed reports whether a MIME type matches a list with wildcards ("image/*"). */
export function typeAllowed(type, allowed) {
  const t = String(type || "").split(";")[0].trim().toLowerCase();
  if (!t) return false;
  return allowed.some((a) => a === t || (a.endsWith("/*") && t.startsWith(a.slice(0, -1))));
}

// The media type the limits probe declares: reserved, never allowed, so
// the answer is invalid_file_type with the policy's allowedTypes and
// nothing is recorded.
const PROBE_TYPE = "application/x-attachkit-limits-probe";
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
// Headers a browser sets itself and refuses from scripts.
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "transfer-encoding"]);

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  if (signal && signal.aborted) return reject(abortError());
  const t = setTimeout(() => { cleanup(); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); cleanup(); reject(abortError()); };
  const cleanup = () => signal && signal.removeEventListener("abort", onAbort);
  if (signal) signal.addEventListener("abort", onAbort, { once: true });
});

function abortError() { return new AttachError("aborted", MESSAGES.aborted); }

async function errorFrom(status, headers, text) {
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  const e = body && body.error;
  const retryAfter = Number(headers.get("Retry-After")) || 0;
  if (e && e.code) return new AttachError(e.code, e.message, { status, details: e.details, retryAfter });
  return new AttachError(status >= 500 ? "internal" : "invalid_request", `HTTP ${status}`, { status, retryAfter });
}

/**
 * Client talks to one mounted API. Options: baseUrl (default "/v1"),
 * apiKey, userId (sent as X-User-Id), retries (default 4), backoff
 * (first delay in ms, default 500; doubled each time, at most 8 s),
 * onRetry(err, attempt, delayMs) called before each retry.
 */
export class Client {
  constructor({ baseUrl = "/v1", apiKey = "", userId = "", retries = 4, backoff = 500, onRetry = null } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.userId = userId;
    this.retries = retries;
    this.backoff = backoff;
    this.onRetry = onRetry;
    /** The latest fileLimits seen ({allowedTypes, maxSize}); maxSize 0 = not known yet. */
    this.fileLimits = null;
    this.thumbnails = undefined; // true/false once GET /files/{id}/thumbnail answered
  }

  headers(extra = {}) {
    const h = { ...extra };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    if (this.userId) h["X-User-Id"] = this.userId;
    return h;
  }

  // retry runs fn(attempt) again after network errors and retryable statuses.
  async retry(fn, signal) {
    for (let attempt = 0; ; attempt++) {
      if (signal && signal.aborted) throw abortError();
      try {
        return await fn(attempt);
      } catch (err) {
        const retryable = err instanceof AttachError &&
          (err.code === "network" || RETRY_STATUSES.has(err.status));
        if (!retryable || attempt >= this.retries) throw err;
        const base = Math.min(8000, this.backoff * 2 ** attempt);
        const wait = err.retryAfter ? err.retryAfter * 1000 : base / 2 + Math.random() * base / 2;
        if (this.onRetry) this.onRetry(err, attempt + 1, wait);
        await sleep(wait, signal);
      }
    }
  }

  /** request sends one JSON API request (path relative to baseUrl) and returns the parsed answer. */
  async request(method, path, { body, query, signal, headers } = {}) {
    const url = new URL(this.baseUrl + path, location.href);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    }
    const init = { method, signal, headers: this.headers(headers), cache: "no-store" };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    return this.retry(async () => {
      let res;
      try {
        res = await fetch(url, init);
      } catch (err) {
        if (signal && signal.aborted) throw abortError();
        throw new AttachError("network", MESSAGES.network);
      }
      const text = await res.text();
      if (!res.ok) throw await errorFrom(res.status, res.headers, text);
      return text ? JSON.parse(text) : null;
    }, signal);
  }

  /**
   * limits returns {allowedTypes, maxSize} without recording anything: the
   * allowed types come from one upload-url request declaring a reserved
   * type (answered invalid_file_type with details.allowedTypes); maxSize
   * is known (non-zero) once a ticket's fileLimits arrived. It also checks
   * the API key: a bad key rejects with code "unauthorized".
   */
  async limits({ signal } = {}) {
    if (this.fileLimits && this.fileLimits.allowedTypes.length) return this.fileLimits;
    try {
      await this.request("POST", "/files/upload-url", {
        signal, body: { fileName: "limits.probe", mimeType: PROBE_TYPE, fileSize: 1 },
      });
    } catch (err) {
      if (err instanceof AttachError && err.code === "invalid_file_type" && Array.isArray(err.details.allowedTypes)) {
        this.learn({ allowedTypes: err.details.allowedTypes, maxSize: 0 });
        return this.fileLimits;
      }
      throw err;
    }
    return this.fileLimits; // the reserved type was allowed: nothing learned
  }

  learn(limits) {
    if (!limits || !Array.isArray(limits.allowedTypes)) return;
    const prev = this.fileLimits || { maxSize: 0 };
    this.fileLimits = { allowedTypes: limits.allowedTypes.map((t) => t.toLowerCase()), maxSize: limits.maxSize || prev.maxSize };
  }

  /** check throws an AttachError when the file is known not to pass the limits; it sends nothing. */
  check(file) {
    const l = this.fileLimits;
    if (!l) return;
    const type = file.type || "application/octet-stream";
    if (l.allowedTypes.length && !typeAllowed(type, l.allowedTypes)) {
      throw new AttachError("invalid_file_type", `${file.name}: type ${type} is not allowed.`,
        { details: { allowedTypes: l.allowedTypes } });
    }
    if (l.maxSize && file.size > l.maxSize) {
      throw new AttachError("file_too_large", "", { details: { maxSize: l.maxSize, actualSize: file.size } });
    }
    if (file.size === 0) throw new AttachError("invalid_request", `${file.name} is empty.`);
  }

  /**
   * upload sends a File or Blob and resolves with the API's File once it
   * is ready. Options: signal (AbortSignal; abort cancels), onProgress({phase,
   * loaded, total}) with phase "uploading", "confirming", "processing" or
   * "ready"; fileName (default: the File's name; for a new version, the
   * file's current name); fileId and ifVersion to upload a new version of
   * an existing file (a stale ifVersion fails with version_conflict);
   * persist, collectionId, tags, metadata for a new file.
   */
  async upload(file, opts = {}) {
    const { signal, fileId } = opts;
    const progress = (phase, loaded = file.size) =>
      opts.onProgress && opts.onProgress({ phase, loaded, total: file.size });
    // A new version keeps the file's name unless fileName is given.
    const fileName = opts.fileName || (fileId ? undefined : file.name || "upload");
    this.check(file);
    const mimeType = file.type || "application/octet-stream";
    const ticket = fileId
      ? await this.request("POST", `/files/${encodeURIComponent(fileId)}/versions/upload-url`, {
        signal, body: { fileName, mimeType, fileSize: file.size, ifVersion: opts.ifVersion },
      })
      : await this.request("POST", "/files/upload-url", {
        signal, body: {
          fileName, mimeType, fileSize: file.size, persist: opts.persist,
          collectionId: opts.collectionId, tags: opts.tags, metadata: opts.metadata,
        },
      });
    this.learn(ticket.fileLimits);
    const id = ticket.id;
    try {
      progress("uploading", 0);
      await this.put(ticket, file, signal, (loaded) => progress("uploading", loaded));
      progress("confirming");
      const query = fileId ? { uploadId: ticket.uploadId } : undefined;
      let f = await this.request("POST", `/files/${encodeURIComponent(id)}/confirm`, { signal, query });
      if (f.status !== "ready") {
        progress("processing");
        await this.waitReady(id, { signal });
        f = await this.get(id, { signal });
      }
      progress("ready");
      return f;
    } catch (err) {
      // A cancelled new upload leaves a pending file behind: remove it.
      if (err instanceof AttachError && err.code === "aborted" && !fileId) {
        this.remove(id).catch(() => {});
      }
      throw err;
    }
  }

  // put sends the bytes with XMLHttpRequest for upload progress events. A
  // retry after a network error may find the bytes already stored (a
  // library-signed URL accepts them once); confirm then has the last word.
  put(ticket, file, signal, onProgress) {
    let lostOnce = false;
    return this.retry(() => new Promise((resolve, reject) => {
      if (signal && signal.aborted) return reject(abortError());
      const xhr = new XMLHttpRequest();
      xhr.open(ticket.method || "PUT", ticket.uploadUrl);
      for (const [k, v] of Object.entries(ticket.headers || {})) {
        if (!FORBIDDEN_HEADERS.has(k.toLowerCase())) xhr.setRequestHeader(k, v);
      }
      const onAbort = () => xhr.abort();
      if (signal) signal.addEventListener("abort", onAbort, { once: true });
      const done = () => signal && signal.removeEventListener("abort", onAbort);
      xhr.upload.onprogress = (e) => onProgress(e.lengthComputable ? e.loaded : 0);
      xhr.onload = async () => {
        done();
        if (xhr.status >= 200 && xhr.status < 300) { onProgress(file.size); return resolve(); }
        const err = await errorFrom(xhr.status, { get: (h) => xhr.getResponseHeader(h) }, xhr.responseText);
        if (lostOnce && !RETRY_STATUSES.has(xhr.status)) return resolve(); // let confirm decide
        reject(err);
      };
      xhr.onerror = xhr.ontimeout = () => {
        done();
        lostOnce = true;
        reject(new AttachError("network", MESSAGES.network));
      };
      xhr.onabort = () => { done(); reject(abortError()); };
      xhr.send(file);
    }), signal);
  }

  /** waitReady polls GET /files/{id}/status until ready; rejected or failed reject with the reason. */
  async waitReady(id, { signal, interval = 300, maxInterval = 5000 } = {}) {
    for (let wait = interval; ; wait = Math.min(maxInterval, wait * 1.5)) {
      const s = await this.request("GET", `/files/${encodeURIComponent(id)}/status`, { signal });
      if (s.status === "ready") return s;
      if (s.status === "rejected" || s.status === "failed") {
        const e = s.error || {};
        throw new AttachError(e.code || "internal", e.message || `The file was ${s.status}.`);
      }
      await sleep(wait, signal);
    }
  }

  /** list returns a page {items, nextCursor, total}; options limit, cursor, q, sort, kind, tag, collectionId. */
  list(query = {}, { signal } = {}) { return this.request("GET", "/files", { query, signal }); }

  get(id, { signal } = {}) { return this.request("GET", `/files/${encodeURIComponent(id)}`, { signal }); }

  rename(id, fileName, { signal } = {}) {
    return this.request("PATCH", `/files/${encodeURIComponent(id)}`, { body: { fileName }, signal });
  }

  async remove(id, { signal } = {}) {
    await this.request("DELETE", `/files/${encodeURIComponent(id)}`, { signal });
  }

  /** downloadUrl returns {url, expiresAt}; inline asks for Content-Disposition inline (safe types only). */
  downloadUrl(id, { inline = false, version, signal } = {}) {
    return this.request("GET", `/files/${encodeURIComponent(id)}/download`, {
      query: { disposition: inline ? "inline" : undefined, version }, signal,
    });
  }

  /**
   * share makes a public link to the file (POST /files/{id}/links; needs
   * the edit right) and returns {id, url, expiresAt, createdAt}: anyone
   * holding url gets the file's bytes, until expiresAt (a Date or an RFC
   * 3339 string; none by default) or until the link is revoked.
   */
  share(id, { expiresAt, signal } = {}) {
    const body = {};
    if (expiresAt) body.expiresAt = expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt;
    return this.request("POST", `/files/${encodeURIComponent(id)}/links`, { body, signal });
  }

  /**
   * previewUrl returns a URL of a small image for the file, or null. It
   * asks GET /files/{id}/thumbnail (w and h must be among the server's
   * allowed sizes, by default 64, 256 and 1024); while a server has no
   * thumbnail route (answered 404 for a file that exists), it falls back to
   * the image itself, inline, for raster images.
   */
  async previewUrl(file, { w = 256, h = 256, signal } = {}) {
    if (this.thumbnails !== false) {
      try {
        const t = await this.request("GET", `/files/${encodeURIComponent(file.id)}/thumbnail`,
          { query: { w, h, fit: "cover" }, signal });
        this.thumbnails = true;
        return t ? t.url : null;
      } catch (err) {
        if (!(err instanceof AttachError) || err.code !== "not_found" || this.thumbnails) throw err;
        this.thumbnails = false;
      }
    }
    const raster = /^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(file.mimeType);
    if (!raster || file.status !== "ready") return null;
    return (await this.downloadUrl(file.id, { inline: true, signal })).url;
  }
}
