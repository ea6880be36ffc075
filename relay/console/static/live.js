// The Live page: follows /console/events (server-sent events) and shows each event as a row,
// newest on top. Filters restart the stream; Pause keeps counting (and holding, bounded) what
// arrives and shows it on Resume. Past 50 events of one outcome a second the relay sends a
// count of the rest instead (a "skipped" row). The EventSource reconnects by itself after a
// network error; a refused stream (signed out: 401) is retried every few seconds. No framework,
// no build.
"use strict";

(function () {
  const root = document.getElementById("live");
  if (!root) return;
  const form = document.getElementById("live-filters");
  const rows = document.getElementById("live-rows");
  const state = document.getElementById("live-state");
  const pendingNote = document.getElementById("live-pending");
  const pauseButton = document.getElementById("live-pause");
  const clearButton = document.getElementById("live-clear");
  const maxRows = Math.max(10, Number(root.dataset.maxRows || "200"));
  const RETRY_MS = 5000;

  let source = null;
  let retry = null;
  let paused = false;
  let held = [];       // events that came while paused (the newest maxRows)
  let heldCount = 0;   // how many came while paused, whether held or not
  let where = "";      // what the stream follows: every replica, or one

  function setState(name, text) {
    state.dataset.state = name;
    state.textContent = text;
  }

  function streamUrl() {
    const params = new URLSearchParams();
    for (const name of ["source", "outcome"]) {
      const value = form.elements[name].value;
      if (value) params.set(name, value);
    }
    const query = params.toString();
    return root.dataset.stream + (query ? "?" + query : "");
  }

  function cell(tr, text, className) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function timeOf(at) {
    const when = typeof at === "number" ? new Date(at * 1000) : new Date();
    return when.toISOString().slice(11, 23);
  }

  function rowFor(event) {
    const tr = document.createElement("tr");
    tr.className = "event new";
    if (event.kind === "missed") {
      tr.className = "missed new";
      tr.dataset.outcome = "missed";
      cell(tr, timeOf(null));
      cell(tr, event.replica || "");
      const td = cell(tr, event.missed + " events missed (the feed fell behind)");
      td.colSpan = 6;
      return tr;
    }
    if (event.kind === "skipped") {
      tr.className = "missed skipped new";
      tr.dataset.outcome = "skipped";
      cell(tr, timeOf(null));
      cell(tr, event.replica || "");
      const td = cell(tr, event.skipped + " events not shown (over " + event.per_second +
        " a second of one outcome): filter by source or outcome to see every one");
      td.colSpan = 6;
      return tr;
    }
    tr.dataset.outcome = event.kind || "";
    tr.dataset.source = event.source || "";
    tr.dataset.replica = event.replica || "";
    if (event.dial_id) tr.dataset.dialId = event.dial_id;
    cell(tr, timeOf(event.at), "at");
    cell(tr, event.replica, "replica");
    cell(tr, event.source, "source");
    const kind = cell(tr, "", "outcome");
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.dataset.outcome = event.kind || "";
    tag.textContent = event.kind || "";
    kind.appendChild(tag);
    cell(tr, event.dial_id, "dial");
    cell(tr, event.status, "status");
    const said = [event.reason, event.detail].filter(Boolean).join(" · ");
    cell(tr, (event.attempt ? "attempt " + event.attempt + (said ? " · " : "") : "") + said, "detail");
    const payload = cell(tr, "", "payload");
    if (event.payload !== undefined) {
      const code = document.createElement("code");
      code.textContent = typeof event.payload === "string" ? event.payload : JSON.stringify(event.payload);
      payload.appendChild(code);
    }
    return tr;
  }

  function show(events) {
    const empty = document.getElementById("live-empty");
    if (empty && events.length) empty.remove();
    for (const event of events) rows.insertBefore(rowFor(event), rows.firstChild);
    while (rows.children.length > maxRows) rows.removeChild(rows.lastChild);
  }

  function notePending() {
    pendingNote.hidden = heldCount === 0;
    const dropped = heldCount - held.length;
    pendingNote.textContent = heldCount === 0 ? "" :
      heldCount + " new while paused" + (dropped > 0 ? " (the oldest " + dropped + " will not be shown)" : "");
  }

  function arrived(event) {
    if (!paused) { show([event]); return; }
    heldCount += 1;
    held.push(event);
    if (held.length > maxRows) held.shift();
    notePending();
  }

  function connect() {
    if (source) source.close();
    if (retry) { clearTimeout(retry); retry = null; }
    setState("connecting", "Connecting…");
    const es = new EventSource(streamUrl(), { withCredentials: true });
    source = es;
    es.addEventListener("ready", (msg) => {
      let hello = {};
      try { hello = JSON.parse(msg.data); } catch (err) { /* keep the defaults */ }
      where = hello.cluster ? "every replica" : "replica " + (hello.replica || "?");
      setState(paused ? "paused" : "live", (paused ? "Paused · " : "Live · ") + where);
      root.dataset.connected = String(Date.now());
    });
    const take = (msg) => {
      try { arrived(JSON.parse(msg.data)); } catch (err) { /* not an event */ }
    };
    es.addEventListener("message", take);
    es.addEventListener("missed", take);
    es.addEventListener("skipped", take);
    es.onerror = () => {
      if (es !== source) return;
      if (es.readyState === EventSource.CLOSED) {
        setState("disconnected", "Disconnected (signed out, or the relay refused the stream): retrying…");
        retry = setTimeout(connect, RETRY_MS);
      } else {
        setState("reconnecting", "Reconnecting…");
      }
    };
  }

  function restart() {
    rows.replaceChildren();
    held = [];
    heldCount = 0;
    notePending();
    const params = new URLSearchParams(new FormData(form));
    for (const [name, value] of [...params]) if (!value) params.delete(name);
    history.replaceState(null, "", form.action + (params.toString() ? "?" + params : ""));
    connect();
  }

  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT") restart();
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); restart(); });

  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", String(paused));
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (paused) {
      setState("paused", "Paused · new events are counted and shown on Resume");
    } else {
      show(held);
      held = [];
      heldCount = 0;
      notePending();
      const open = source && source.readyState === EventSource.OPEN;
      setState(open ? "live" : "connecting", open ? "Live · " + where : "Connecting…");
    }
  });
  clearButton.addEventListener("click", () => { rows.replaceChildren(); });

  connect();
})();
