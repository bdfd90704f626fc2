// The example server's page: uploads and a file grid on attach.js, using
// only the public HTTP API.
import { Client, AttachError, describeError, formatSize } from "/v1/attach.js";

const KEY_STORAGE = "attachkit.apiKey";
const $ = (sel) => document.querySelector(sel);
const client = new Client({ baseUrl: "/v1", apiKey: localStorage.getItem(KEY_STORAGE) || "" });
const state = { files: new Map(), cursor: null, q: "" };

function notice(text, isError = false) {
  const n = $("#notice");
  n.textContent = text;
  n.classList.toggle("error", isError);
}

// ---- API key ---------------------------------------------------------------

async function useKey(key) {
  client.apiKey = key;
  client.fileLimits = null;
  try {
    const limits = await client.limits();
    localStorage.setItem(KEY_STORAGE, key);
    showLimits(limits);
    document.body.classList.add("has-key");
    notice("Connected.");
    await loadFiles();
  } catch (err) {
    document.body.classList.remove("has-key");
    notice(describeError(err), true);
  }
}

function showLimits(limits) {
  if (!limits) return;
  const types = limits.allowedTypes.map((t) => t.replace(/^(image|video|application)\//, "")).join(", ");
  $("#limits").textContent = `Allowed: ${types}` + (limits.maxSize ? `; up to ${formatSize(limits.maxSize)}` : "") + ".";
  $("#file-input").accept = limits.allowedTypes.join(",");
}

$("#key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  useKey($("#api-key").value.trim());
});

// ---- uploads -----------------------------------------------------------------

function uploadOne(file, { target } = {}) {
  const li = $("#upload-template").content.firstElementChild.cloneNode(true);
  const bar = li.querySelector("progress");
  const stateEl = li.querySelector(".upload-state");
  const errEl = li.querySelector(".error");
  const cancel = li.querySelector(".cancel");
  li.querySelector(".upload-name").textContent = target ? `${file.name} (new version of ${target.fileName})` : file.name;
  bar.setAttribute("aria-label", `Progress of ${file.name}`);
  $("#uploads").prepend(li);
  const ctl = new AbortController();
  cancel.addEventListener("click", () => ctl.abort());
  const labels = { uploading: "Uploading", confirming: "Checking", processing: "Processing", ready: "Ready" };
  const setState = (phase, pct) => {
    li.dataset.phase = phase;
    bar.value = pct;
    stateEl.textContent = `${labels[phase] || phase} ${pct}%`;
  };
  setState("uploading", 0);
  const opts = {
    signal: ctl.signal,
    onProgress: ({ phase, loaded, total }) => {
      const pct = phase === "uploading" && total ? Math.floor((loaded / total) * 100) : 100;
      setState(phase, pct);
    },
  };
  if (target) Object.assign(opts, { fileId: target.id, ifVersion: target.version });
  return client.upload(file, opts).then(
    (f) => {
      li.classList.add("done");
      cancel.remove();
      setState("ready", 100);
      showLimits(client.fileLimits);
      upsertCard(f, true);
      setTimeout(() => li.remove(), 8000);
    },
    (err) => {
      li.classList.add("failed");
      li.dataset.phase = "failed";
      li.dataset.code = err instanceof AttachError ? err.code : "";
      stateEl.textContent = err instanceof AttachError && err.code === "aborted" ? "Cancelled" : "Failed";
      errEl.textContent = describeError(err);
      cancel.textContent = "Dismiss";
      cancel.onclick = () => li.remove();
    },
  );
}

function uploadAll(files) {
  if (!client.apiKey) {
    notice("Enter the API key first.", true);
    $("#api-key").focus();
    return;
  }
  for (const f of files) uploadOne(f);
}

$("#file-input").addEventListener("change", (e) => {
  uploadAll([...e.target.files]);
  e.target.value = "";
});

const drop = $("#drop-zone");
for (const ev of ["dragenter", "dragover"]) {
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const ev of ["dragleave", "drop"]) {
  drop.addEventListener(ev, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  uploadAll([...e.dataTransfer.files]);
});

let versionTarget = null;
$("#version-input").addEventListener("change", (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (file && versionTarget) uploadOne(file, { target: versionTarget });
});

// ---- the file grid ---------------------------------------------------------

async function loadFiles({ more = false } = {}) {
  try {
    const page = await client.list({ limit: 24, cursor: more ? state.cursor : undefined, q: state.q });
    if (!more) {
      $("#grid").replaceChildren();
      state.files.clear();
    }
    for (const f of page.items) upsertCard(f);
    state.cursor = page.nextCursor;
    $("#more").hidden = !page.nextCursor;
    $("#files-count").textContent = `(${page.total})`;
    $("#empty").hidden = page.total > 0;
  } catch (err) {
    notice(describeError(err), true);
  }
}

function kindLabel(f) {
  const ext = (f.fileName.match(/\.([a-z0-9]{1,5})$/i) || [])[1];
  return (ext || f.kind || "file").toUpperCase();
}

function upsertCard(f, first = false) {
  const old = document.querySelector(`.card[data-id="${CSS.escape(f.id)}"]`);
  const li = $("#card-template").content.firstElementChild.cloneNode(true);
  li.dataset.id = f.id;
  li.dataset.status = f.status;
  li.querySelector(".name").textContent = f.fileName;
  li.querySelector(".name").title = f.fileName;
  li.querySelector(".size").textContent = f.readableSize || formatSize(f.fileSize);
  li.querySelector(".status").textContent = f.status;
  li.querySelector(".version").textContent = `v${f.version}`;
  li.querySelector(".icon").textContent = kindLabel(f);
  li.querySelector(".preview").dataset.kind = f.kind;
  for (const b of li.querySelectorAll("button[data-action]")) {
    b.setAttribute("aria-label", `${b.textContent} ${f.fileName}`);
  }
  const wasNew = !state.files.has(f.id);
  state.files.set(f.id, f);
  if (old) old.replaceWith(li);
  else if (first) $("#grid").prepend(li);
  else $("#grid").append(li);
  if (wasNew && first) {
    const c = $("#files-count");
    const n = Number((c.textContent.match(/\d+/) || [0])[0]) + 1;
    c.textContent = `(${n})`;
    $("#empty").hidden = true;
  }
  showPreview(li, f);
}

async function showPreview(li, f) {
  try {
    const url = await client.previewUrl(f);
    if (!url) return;
    const img = new Image();
    img.alt = "";
    img.decoding = "async";
    img.onload = () => li.querySelector(".preview").replaceChildren(img);
    img.src = url;
  } catch {
    // keep the type icon
  }
}

$("#grid").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const id = b.closest(".card").dataset.id;
  const f = state.files.get(id);
  try {
    switch (b.dataset.action) {
      case "download": return await download(f);
      case "share": return await share(f);
      case "rename": return openRename(f, b);
      case "delete": return openDelete(f, b);
      case "version":
        versionTarget = f;
        return $("#version-input").click();
    }
  } catch (err) {
    notice(`${f.fileName}: ${describeError(err)}`, true);
  }
});

async function download(f) {
  const { url } = await client.downloadUrl(f.id);
  const a = document.createElement("a");
  a.href = url;
  a.download = f.fileName;
  document.body.append(a);
  a.click();
  a.remove();
  notice(`Downloading ${f.fileName}.`);
}

// share makes a public link that expires in a week and offers it: on
// the clipboard when the browser allows, and in the notice either way.
async function share(f) {
  const week = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  const link = await client.share(f.id, { expiresAt: week });
  let copied = false;
  try {
    await navigator.clipboard.writeText(link.url);
    copied = true;
  } catch {
    // no clipboard permission: the notice shows the link
  }
  notice(`${copied ? "Link copied" : "Public link"} (valid for a week): ${link.url}`);
}

function openRename(f, opener) {
  const d = $("#rename-dialog");
  const input = $("#rename-input");
  input.value = f.fileName;
  $("#rename-error").textContent = "";
  d.dataset.id = f.id;
  d.onclose = () => opener.isConnected ? opener.focus() : null;
  d.showModal();
  const dot = f.fileName.lastIndexOf(".");
  input.setSelectionRange(0, dot > 0 ? dot : f.fileName.length);
}

$("#rename-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const d = $("#rename-dialog");
  const f = state.files.get(d.dataset.id);
  const name = $("#rename-input").value.trim();
  if (!f || name === f.fileName) return d.close();
  try {
    const updated = await client.rename(f.id, name);
    d.onclose = null;
    d.close();
    upsertCard(updated);
    notice(`Renamed to ${updated.fileName}.`);
    document.querySelector(`.card[data-id="${CSS.escape(f.id)}"] [data-action="rename"]`)?.focus();
  } catch (err) {
    $("#rename-error").textContent = describeError(err);
  }
});
$("#rename-dialog [data-close]").addEventListener("click", () => $("#rename-dialog").close());

function openDelete(f, opener) {
  const d = $("#delete-dialog");
  $("#delete-name").textContent = f.fileName;
  d.returnValue = "";
  d.onclose = async () => {
    if (d.returnValue !== "delete") return opener.focus();
    try {
      await client.remove(f.id);
      const card = opener.closest(".card");
      const next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      state.files.delete(f.id);
      const c = $("#files-count");
      const n = Math.max(0, Number((c.textContent.match(/\d+/) || [0])[0]) - 1);
      c.textContent = `(${n})`;
      $("#empty").hidden = n > 0;
      notice(`Deleted ${f.fileName}.`);
      (next ? next.querySelector("button") : $("#file-input")).focus();
    } catch (err) {
      notice(`${f.fileName}: ${describeError(err)}`, true);
    }
  };
  d.showModal();
}

$("#more").addEventListener("click", () => loadFiles({ more: true }));
$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.q = $("#search").value.trim();
  loadFiles();
});

// ---- start ------------------------------------------------------------------

if (client.apiKey) {
  $("#api-key").value = client.apiKey;
  useKey(client.apiKey);
} else {
  notice("Enter the API key to start.");
}
