"""Browser-direct upload: the browser PUTs the file to its presigned URL, never through the app.

One `st.components.v2` component per file slot, written inline (HTML, CSS, JavaScript; no build
step, nothing fetched from elsewhere). The flow takes two script runs, because the URL can only
be issued once the caller knows which file the user picked:

1. The user picks (or drops) a file. The component checks its extension, that it is not empty
   and not over `max_bytes`, and reports ``selected`` (or ``rejected`` with a message shown in
   the component; nothing is uploaded). Each pick gets a new `UploadState.selection` id.
2. The caller sees ``selected``, creates/updates the task and stores the presigned PUT for that
   file (``{"url", "method", "headers"}``; extra keys such as ``expires_at`` are ignored), then
   calls ``st.rerun()``: the component receives the URL as ``target`` on a later run only.
3. The mounted component, still holding the `File` object, PUTs it with exactly those headers,
   showing bytes sent, speed and time left. It reports ``uploading`` once, then ``uploaded``; a
   network error, a timeout or a 5xx/408/429 answer is retried 3 times with backoff (1, 2, 4 s);
   a refusal (403, 413, …) is not. Then the failure is reported as ``error`` (with the HTTP
   status in `UploadState.error`) and a "Retry" button is shown.

Which file a URL is for: `target` is taken as issued for the file `direct_upload` returned on the
*previous* run for this key (that is all the caller could have seen). When the user replaces the
file, the run that first returns the new `selection` still gets the old URL and ignores it; from
then on the caller must pass a fresh URL for the new file (`TaskService.declare_file`) or None
until it has one, because whatever it passes next is used for the new file. Detect a replacement
by comparing `UploadState.selection` (a new id per pick), not name and size: the same file picked
again has the same name and size. A different target for the same selection also restarts an
upload that ended in ``error`` (e.g. a fresh URL after the old one expired).

Reruns do not lose the file: the script state lives in the page's JavaScript module, keyed by
`key`, so it survives reruns and even a remount of the element. Use a new `key` to start over.
The component reports only phase changes (and the final result), never each progress event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import streamlit as st

Phase = Literal["empty", "selected", "uploading", "uploaded", "error", "rejected"]
PHASES: tuple[Phase, ...] = ("empty", "selected", "uploading", "uploaded", "error", "rejected")

COMPONENT_NAME = "dq_direct_upload"
STATE_NAME = "upload"  # the one state value the component sets
_SHOWN_KEY = "_dq_direct_upload_shown"  # session: key -> selection id returned in the last run


@dataclass(frozen=True)
class UploadState:
    """What the component last reported for its file."""

    phase: Phase = "empty"
    name: str | None = None
    size: int | None = None
    content_type: str | None = None  # as the browser guessed it (may be None); not the signed one
    bytes_sent: int = 0
    error: str | None = None  # a short sentence for `error` and `rejected`
    selection: str | None = None  # a new id for every file picked, so a replacement is visible

    @classmethod
    def from_value(cls, value: object) -> UploadState:
        """Parse the component's reported value; anything unexpected reads as `empty`."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return cls()
        if not isinstance(value, Mapping) or value.get("phase") not in PHASES:
            return cls()

        def text(name: str) -> str | None:
            item = value.get(name)
            return item if isinstance(item, str) and item else None

        def number(name: str) -> int | None:
            item = value.get(name)
            return int(item) if isinstance(item, int | float) and not isinstance(item, bool) else None

        return cls(
            phase=cast(Phase, value["phase"]),
            name=text("name"),
            size=number("size"),
            content_type=text("content_type"),
            bytes_sent=number("bytes_sent") or 0,
            error=text("error"),
            selection=text("sel"),
        )


def direct_upload(
    key: str,
    *,
    label: str,
    accept: Sequence[str],
    max_bytes: int,
    target: Mapping[str, Any] | None,
    disabled: bool = False,
) -> UploadState:
    """Draw one browser-direct file upload and return what it last reported.

    `accept`: extensions without dots, e.g. ``("csv", "xlsx")``; `max_bytes`: the largest file
    accepted. `target`: the presigned PUT (``url``, ``method``, ``headers``) issued for the file
    this function returned on the previous run, or None while there is none; see the module
    docstring for the flow. The same `key` keeps the selected file across reruns.
    """
    shown: dict[str, str | None] = st.session_state.setdefault(_SHOWN_KEY, {})
    seen = UploadState.from_value(_current_value(key))
    data = {
        "key": key,
        "label": label,
        "accept": _extensions(accept),
        "max_bytes": int(max_bytes),
        "disabled": bool(disabled),
        "target": _target(target, shown.get(key)),
        "seen": {"phase": seen.phase, "sel": seen.selection},
    }
    result = _COMPONENT(key=key, data=data, default={STATE_NAME: None}, on_upload_change=_ignore)
    state = UploadState.from_value(result.get(STATE_NAME))
    shown[key] = state.selection
    return state


def _current_value(key: str) -> object:
    """This run's reported value, read before mounting so the component can check it is in sync."""
    current = st.session_state.get(key)
    if isinstance(current, str):
        try:
            current = json.loads(current)
        except ValueError:
            return None
    return current.get(STATE_NAME) if isinstance(current, Mapping) else None


def _extensions(accept: Sequence[str]) -> list[str]:
    return sorted({e.strip().lstrip(".").lower() for e in accept if e.strip().lstrip(".")})


def _target(target: Mapping[str, Any] | None, selection: str | None) -> dict[str, Any] | None:
    """The URL for the component, tagged with the selection the caller issued it for."""
    if target is None or selection is None or not target.get("url"):
        return None
    headers = target.get("headers") or {}
    return {
        "url": str(target["url"]),
        "method": str(target.get("method") or "PUT").upper(),
        "headers": {str(k): str(v) for k, v in headers.items()},
        "sel": selection,
    }


def _ignore() -> None:
    """The state callback the v2 API needs to expose `upload`; reruns happen anyway."""


_HTML = """
<div class="dq-up" data-testid="direct-upload">
  <label class="dq-zone">
    <input class="dq-input" type="file" data-testid="direct-upload-input" />
    <span class="dq-zone-icon" aria-hidden="true">
      <svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2"
        stroke-linecap="round" stroke-linejoin="round"><path d="M12 16V4"/><path d="m6 10 6-6 6 6"/>
        <path d="M4 20h16"/></svg>
    </span>
    <span class="dq-zone-text">
      <span class="dq-zone-title"><span class="dq-label"></span></span>
      <span class="dq-zone-help">Drag a file here or <span class="dq-browse">browse</span></span>
      <span class="dq-hint"></span>
    </span>
  </label>
  <div class="dq-message" role="alert" hidden></div>
  <div class="dq-announce dq-sr-only" aria-live="polite"></div>
  <div class="dq-card" hidden>
    <div class="dq-row">
      <span class="dq-file-icon" aria-hidden="true">
        <svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2"
          stroke-linecap="round" stroke-linejoin="round">
          <path d="M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9z"/><path d="M14 3v6h6"/></svg>
      </span>
      <span class="dq-name" data-testid="direct-upload-name"></span>
      <span class="dq-size"></span>
      <button type="button" class="dq-button dq-replace">Replace file</button>
    </div>
    <div class="dq-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">
      <div class="dq-fill"></div>
    </div>
    <div class="dq-row dq-status-row">
      <span class="dq-status" data-testid="direct-upload-status"></span>
      <button type="button" class="dq-button dq-primary dq-retry" hidden>Retry</button>
    </div>
  </div>
</div>
"""

_CSS = """
:host { display: block; }
.dq-up {
  --dq-primary: var(--st-primary-color, #1F6FEB);
  --dq-text: var(--st-text-color, #1f2328);
  --dq-muted: #57606a;
  --dq-border: var(--st-border-color, #d0d7de);
  --dq-bg: var(--st-secondary-background-color, #f6f8fa);
  --dq-error: #cf222e;
  --dq-success: #1a7f37;
  font-family: var(--st-font, "Source Sans Pro", system-ui, sans-serif);
  font-size: var(--st-base-font-size, 1rem);
  color: var(--dq-text);
}
[hidden] { display: none !important; }
.dq-zone {
  display: flex; align-items: center; gap: 0.9rem; padding: 1rem 1.1rem;
  border: 1.5px dashed var(--dq-border); border-radius: 0.6rem; background: var(--dq-bg);
  cursor: pointer; transition: border-color 120ms, background 120ms;
}
.dq-zone:hover, .dq-zone.dq-over { border-color: var(--dq-primary); background: #eef4ff; }
.dq-zone:focus-within { outline: 2px solid var(--dq-primary); outline-offset: 2px; }
.dq-zone.dq-disabled { cursor: not-allowed; opacity: 0.55; }
.dq-input, .dq-sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;
}
.dq-zone-icon {
  flex: none; width: 2.4rem; height: 2.4rem; border-radius: 50%; display: grid; place-items: center;
  background: #ffffff; color: var(--dq-primary); font-size: 1.3rem; border: 1px solid var(--dq-border);
}
.dq-zone-text { display: flex; flex-direction: column; gap: 0.1rem; min-width: 0; }
.dq-zone-title { font-weight: 600; }
.dq-zone-help { color: var(--dq-text); }
.dq-browse { color: var(--dq-primary); text-decoration: underline; }
.dq-hint { color: var(--dq-muted); font-size: 0.875em; }
.dq-message {
  margin-top: 0.5rem; padding: 0.55rem 0.8rem; border-radius: 0.5rem;
  background: #ffebe9; color: var(--dq-error); border: 1px solid #ffcecb; font-size: 0.92em;
}
.dq-card {
  border: 1px solid var(--dq-border); border-radius: 0.6rem; padding: 0.75rem 0.9rem;
  background: #ffffff; display: flex; flex-direction: column; gap: 0.55rem;
}
.dq-row { display: flex; align-items: center; gap: 0.6rem; min-width: 0; }
.dq-name {
  font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0;
}
.dq-file-icon { flex: none; display: grid; color: var(--dq-primary); }
.dq-size { color: var(--dq-muted); font-size: 0.875em; flex: none; }
.dq-row .dq-button { margin-left: auto; }
.dq-bar { height: 0.5rem; border-radius: 999px; background: #e6eaef; overflow: hidden; }
.dq-fill { height: 100%; width: 0; background: var(--dq-primary); transition: width 150ms linear; }
.dq-card.dq-done .dq-fill { background: var(--dq-success); }
.dq-card.dq-failed .dq-fill { background: var(--dq-error); }
.dq-status { font-size: 0.9em; color: var(--dq-muted); font-variant-numeric: tabular-nums; }
.dq-card.dq-done .dq-status { color: var(--dq-success); font-weight: 600; }
.dq-card.dq-failed .dq-status { color: var(--dq-error); }
.dq-button {
  flex: none; font: inherit; font-size: 0.875em; padding: 0.3rem 0.8rem; border-radius: 0.5rem;
  border: 1px solid var(--dq-border); background: #ffffff; color: var(--dq-text); cursor: pointer;
}
.dq-button:hover { border-color: var(--dq-primary); color: var(--dq-primary); }
.dq-button:focus-visible { outline: 2px solid var(--dq-primary); outline-offset: 2px; }
.dq-button:disabled { opacity: 0.5; cursor: not-allowed; }
.dq-primary { background: var(--dq-primary); border-color: var(--dq-primary); color: #ffffff; }
.dq-primary:hover { color: #ffffff; filter: brightness(0.93); }
"""

_JS = r"""
// One Uploader per Streamlit key, kept at module level: the module is loaded once per page,
// so the chosen File and any upload in flight survive reruns and remounts of the element.
const uploaders = new Map();
const BACKOFF_MS = [1000, 2000, 4000];  // one wait per automatic retry
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "transfer-encoding"]);
const RESYNC_AFTER_MS = 1500;

function newId() {
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
}

function humanBytes(n) {  // the same units as ui.text.human_bytes
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  return `${value.toFixed(1)} ${units[i]}`;
}

function humanSeconds(s) {
  if (!Number.isFinite(s) || s < 0) return "";
  if (s < 1) return "less than a second left";
  if (s < 90) return `${Math.round(s)} s left`;
  if (s < 5400) return `${Math.round(s / 60)} min left`;
  return `${(s / 3600).toFixed(1)} h left`;
}

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

function listWords(items) {
  const upper = items.map((e) => e.toUpperCase());
  if (upper.length <= 1) return upper.join("");
  return `${upper.slice(0, -1).join(", ")} or ${upper[upper.length - 1]}`;
}

function responseMessage(xhr) {
  const body = (xhr.responseText || "").trim();
  if (!body) return "";
  try {
    const parsed = JSON.parse(body);
    if (parsed && typeof parsed.message === "string") return parsed.message;
  } catch (_) { /* not JSON */ }
  const xml = body.match(/<Message>([^<]{1,300})<\/Message>/);
  if (xml) return xml[1];
  return body.length <= 160 && !body.includes("<") ? body : "";
}

function sameTarget(a, b) {
  return !!a && !!b && a.url === b.url && a.method === b.method &&
    JSON.stringify(a.headers || {}) === JSON.stringify(b.headers || {});
}

class Uploader {
  constructor() {
    this.root = null;
    this.els = null;
    this.setStateValue = null;
    this.data = {};
    this.file = null;
    this.state = {
      phase: "empty", sel: null, name: null, size: null, content_type: null, bytes_sent: 0, error: null,
    };
    this.target = null;        // the target of the current/last upload
    this.failedTarget = null;  // the target that ended in `error`
    this.xhr = null;
    this.timer = null;
    this.attempt = 0;
    this.note = "";           // transient status text (retrying…)
    this.samples = [];        // [time ms, bytes] for the speed estimate
    this.lastReport = 0;
    this.resynced = null;
    this.resyncTimer = null;
  }

  attach(root, setStateValue) {
    this.setStateValue = setStateValue;
    if (root === this.root) return;
    this.root = root;
    const q = (s) => root.querySelector(s);
    this.els = {
      zone: q(".dq-zone"), input: q(".dq-input"), label: q(".dq-label"), hint: q(".dq-hint"),
      message: q(".dq-message"), card: q(".dq-card"), name: q(".dq-name"), size: q(".dq-size"),
      bar: q(".dq-bar"), fill: q(".dq-fill"), status: q(".dq-status"), retry: q(".dq-retry"),
      replace: q(".dq-replace"), announce: q(".dq-announce"), box: q(".dq-up"),
    };
    const { zone, input, retry, replace } = this.els;
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = "";  // picking the same file again still fires `change`
      if (file) this.choose(file);
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      if (!this.data.disabled) zone.classList.add("dq-over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dq-over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dq-over");
      const file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (file) this.choose(file);
    });
    retry.addEventListener("click", () => {
      const given = this.data.target;
      const target = given && given.sel === this.state.sel ? given : this.target;
      if (target && this.file && !this.data.disabled) this.start(target);
    });
    replace.addEventListener("click", () => input.click());
  }

  detach(root) {
    if (root === this.root) { this.root = null; this.els = null; }
  }

  update(data) {
    this.data = data || {};
    this.maybeStart();
    this.maybeResync();
    this.render();
  }

  report() {
    this.lastReport = Date.now();
    if (this.setStateValue) this.setStateValue("upload", { ...this.state });
  }

  setState(changes) {
    this.state = { ...this.state, ...changes };
    this.report();
    this.render();
    this.announce();
  }

  // Phase changes only, for screen readers (the progress line changes too often to be live).
  announce() {
    if (!this.els) return;
    const s = this.state;
    const name = s.name || "the file";
    const text = {
      selected: `${name} selected.`,
      uploading: `Uploading ${name}.`,
      uploaded: `${name} uploaded.`,
      error: s.error || "The upload failed.",
      rejected: "",  // the message box is role=alert already
    }[s.phase] || "";
    this.els.announce.textContent = text;
  }

  stop() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.xhr) { const xhr = this.xhr; this.xhr = null; xhr.abort(); }
  }

  choose(file) {
    if (this.data.disabled) return;
    this.stop();
    const accept = this.data.accept || [];
    const max = Number(this.data.max_bytes) || Infinity;
    const base = {
      sel: newId(), name: file.name, size: file.size, content_type: file.type || null, bytes_sent: 0,
    };
    let problem = null;
    if (accept.length && !accept.includes(extensionOf(file.name))) {
      problem = `“${file.name}” is not an accepted file type. Choose a ${listWords(accept)} file.`;
    } else if (file.size === 0) {
      problem = `“${file.name}” is empty (0 bytes). Choose a file with data in it.`;
    } else if (file.size > max) {
      problem = `“${file.name}” is ${humanBytes(file.size)}; the limit is ${humanBytes(max)}.`;
    }
    this.target = null;
    this.failedTarget = null;
    this.note = "";
    if (problem) {
      this.file = null;
      this.setState({ ...base, phase: "rejected", error: problem });
      return;
    }
    this.file = file;
    this.setState({ ...base, phase: "selected", error: null });
    this.maybeStart();
  }

  maybeStart() {
    const t = this.data.target;
    if (!t || !this.file || this.data.disabled || t.sel !== this.state.sel) return;
    if (this.state.phase === "selected" ||
        (this.state.phase === "error" && !sameTarget(t, this.failedTarget))) {
      this.start(t);
    }
  }

  start(target) {
    this.stop();
    this.target = target;
    this.failedTarget = null;
    this.attempt = 0;
    this.note = "";
    this.setState({ phase: "uploading", bytes_sent: 0, error: null });
    this.send();
  }

  send() {
    this.timer = null;
    const target = this.target;
    const xhr = new XMLHttpRequest();
    this.xhr = xhr;
    this.samples = [[performance.now(), 0]];
    xhr.open(target.method || "PUT", target.url, true);
    for (const [name, value] of Object.entries(target.headers || {})) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (e) => {
      if (xhr !== this.xhr) return;
      this.state.bytes_sent = e.loaded;  // local only: progress is never reported to Python
      const now = performance.now();
      this.samples.push([now, e.loaded]);
      while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
      this.render();
    });
    xhr.addEventListener("load", () => {
      if (xhr !== this.xhr) return;
      this.xhr = null;
      if (xhr.status >= 200 && xhr.status < 300) {
        this.note = "";
        this.setState({ phase: "uploaded", bytes_sent: this.state.size, error: null });
      } else {
        const detail = responseMessage(xhr).trim().replace(/[.\s]+$/, "");
        // Only a busy or broken server is worth another try; a refusal (403, 413…) will not change.
        const retryable = xhr.status >= 500 || xhr.status === 408 || xhr.status === 429;
        const refusal = `The storage refused the upload (HTTP ${xhr.status}${detail ? ": " + detail : ""}).`;
        this.failed(refusal, retryable);
      }
    });
    const networkError = () => {
      if (xhr !== this.xhr) return;
      this.xhr = null;
      this.failed("The upload could not reach the storage (network error).");
    };
    xhr.addEventListener("error", networkError);
    xhr.addEventListener("timeout", networkError);
    xhr.send(this.file);
  }

  failed(message, retryable = true) {
    if (retryable && this.attempt < BACKOFF_MS.length) {
      const wait = BACKOFF_MS[this.attempt];
      this.attempt += 1;
      this.note = `${message} Retrying in ${wait / 1000} s (retry ${this.attempt} of ${BACKOFF_MS.length})…`;
      this.state.bytes_sent = 0;
      this.render();
      this.timer = setTimeout(() => this.send(), wait);
      return;
    }
    this.note = "";
    this.failedTarget = this.target;
    this.setState({ phase: "error", bytes_sent: 0, error: message });
  }

  // Re-send the state when Python's copy differs from ours (e.g. its widget state was dropped
  // while the element was not drawn), at most once per difference and never right after a report.
  maybeResync() {
    const seen = this.data.seen || {};
    const theirs = `${seen.sel ?? null}|${seen.phase ?? "empty"}`;
    const ours = `${this.state.sel}|${this.state.phase}`;
    if (theirs === ours) return;
    const wait = RESYNC_AFTER_MS - (Date.now() - this.lastReport);
    if (wait > 0) {  // a report may be on its way: look again later, with the newest data
      clearTimeout(this.resyncTimer);
      this.resyncTimer = setTimeout(() => this.maybeResync(), wait + 50);
      return;
    }
    const key = `${ours}/${theirs}`;
    if (this.resynced === key) return;
    this.resynced = key;
    this.report();
  }

  render() {
    const els = this.els;
    if (!els) return;
    const d = this.data;
    const s = this.state;
    const accept = d.accept || [];
    els.box.dataset.phase = s.phase;  // for tests: the phase as this browser sees it
    els.label.textContent = d.label || "File";
    els.input.setAttribute("aria-label", d.label || "File");
    els.input.accept = accept.map((e) => "." + e).join(",");
    els.input.disabled = !!d.disabled;
    els.zone.classList.toggle("dq-disabled", !!d.disabled);
    const limit = Number(d.max_bytes) ? `up to ${humanBytes(Number(d.max_bytes))}` : "";
    els.hint.textContent = [listWords(accept), limit].filter(Boolean).join(" · ");

    const hasFile = ["selected", "uploading", "uploaded", "error"].includes(s.phase);
    els.zone.hidden = hasFile;
    els.card.hidden = !hasFile;
    els.message.hidden = s.phase !== "rejected";
    els.message.textContent = s.phase === "rejected" ? s.error : "";
    if (!hasFile) return;

    els.name.textContent = s.name || "";
    els.name.title = s.name || "";
    els.size.textContent = humanBytes(s.size);
    els.replace.disabled = !!d.disabled;
    els.card.classList.toggle("dq-done", s.phase === "uploaded");
    els.card.classList.toggle("dq-failed", s.phase === "error");
    els.retry.hidden = s.phase !== "error";
    els.retry.disabled = !!d.disabled;

    const total = s.size || 0;
    const sent = s.phase === "uploaded" ? total : Math.min(s.bytes_sent || 0, total);
    const pct = total ? Math.floor((sent / total) * 100) : 0;
    els.bar.hidden = s.phase === "selected" || s.phase === "error";
    els.bar.setAttribute("aria-valuenow", String(pct));
    els.bar.setAttribute("aria-label", `Upload of ${s.name || "the file"}`);
    els.fill.style.width = `${pct}%`;

    let status = "";
    if (s.phase === "selected") {
      status = d.disabled ? "Selected." : "Selected — waiting for the upload to start…";
    } else if (s.phase === "uploading") {
      if (this.note) {
        status = this.note;
      } else {
        const parts = [`${humanBytes(sent)} of ${humanBytes(total)} (${pct}%)`];
        const first = this.samples[0];
        const last = this.samples[this.samples.length - 1];
        const seconds = first && last ? (last[0] - first[0]) / 1000 : 0;
        if (seconds > 0.2 && last[1] > first[1]) {
          const speed = (last[1] - first[1]) / seconds;
          parts.push(`${(speed / 1048576).toFixed(speed < 10485760 ? 2 : 1)} MB/s`);
          parts.push(humanSeconds((total - sent) / speed));
        }
        status = parts.join(" · ");
      }
    } else if (s.phase === "uploaded") {
      status = `Uploaded (${humanBytes(total)}).`;
    } else if (s.phase === "error") {
      status = s.error || "The upload failed.";
    }
    els.status.textContent = status;
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const key = (data && data.key) || "default";
  let uploader = uploaders.get(key);
  if (!uploader) {
    uploader = new Uploader();
    uploaders.set(key, uploader);
  }
  uploader.attach(parentElement, setStateValue);
  uploader.update(data);
  return () => uploader.detach(parentElement);
}
"""

_COMPONENT = st.components.v2.component(COMPONENT_NAME, html=_HTML, css=_CSS, js=_JS)
