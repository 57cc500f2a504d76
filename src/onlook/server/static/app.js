// onlook web page: streams, live view, streamed answers, timeline and alerts.
// Plain ES module, no build step, no dependencies; everything it needs is served by the onlook app.

const KEY_STORAGE = "onlook.apiKey";
const MAX_ITEMS = 1500;       // timeline items kept per kind
const MAX_ALERTS_SHOWN = 200; // alerts kept in the panel
const SVG_NS = "http://www.w3.org/2000/svg";
const TS_RE = /\b(?:(\d{1,3}):)?(\d{1,2}):(\d{2})\b/g;

const $ = (id) => document.getElementById(id);

const state = {
  key: localStorage.getItem(KEY_STORAGE) || "",
  streams: new Map(),      // id -> status object
  selected: null,          // stream id
  items: [],               // timeline items of the selected stream (events, sightings, gaps)
  alerts: [],              // alerts of the selected stream, oldest first
  seen: new Set(),         // dedupe keys of items and alerts of the selected stream
  unseen: new Map(),       // stream id -> alerts fired while another stream was selected
  chats: new Map(),        // stream id -> {log: <ol>, conversation: id}
  focusT: null,            // stream time picked in an answer (drawn on the timeline)
  evidenceBoxes: [],       // boxes outlined on the keyframe shown in the evidence dialog
  feed: null,              // EventSource of /events
  needKey: false,
};

// ---------------------------------------------------------------------------------------------
// helpers

function fmtTime(t) {
  if (t == null || !isFinite(t)) return "--:--";
  const s = Math.max(0, Math.floor(t));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function parseTs(h, m, s) {
  return (h ? Number(h) * 3600 : 0) + Number(m) * 60 + Number(s);
}

function withKey(url) {
  if (!state.key || !url) return url;
  return url + (url.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(state.key);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, v);
  for (const c of children) if (c != null) node.append(c);
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  // Every request that changes something says JSON, body or not: the server refuses state-changing
  // requests without it (a cross-site form cannot send it).
  if (body !== undefined || method !== "GET") headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    setConn("down", "server unreachable");
    throw new ApiError(0, "the server cannot be reached");
  }
  if (resp.status === 401) {
    askForKey(state.key ? "That API key was refused." : "This server needs an API key.");
  }
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    try { message = (await resp.json()).error.message || message; } catch { /* not JSON */ }
    throw new ApiError(resp.status, message);
  }
  if (state.needKey) keyAccepted();
  return raw ? resp : resp.json();
}

// ---------------------------------------------------------------------------------------------
// connection state and the API key

function setConn(kind, text) {
  $("conn").dataset.state = kind;
  $("conn-text").textContent = text;
}

function askForKey(note) {
  state.needKey = true;
  setConn("key", "API key needed");
  showKeyForm(true);
  $("key-note").textContent = note;
  if (document.activeElement !== $("api-key")) $("api-key").focus();
}

function keyAccepted() {
  state.needKey = false;
  $("key-note").textContent = "";
}

function showKeyForm(show) {
  $("key-form").hidden = !show;
  $("key-toggle").hidden = show;
  $("key-toggle").setAttribute("aria-expanded", String(show));
  if (show) $("api-key").value = state.key;
}

function setKey(key) {
  state.key = key;
  if (key) localStorage.setItem(KEY_STORAGE, key); else localStorage.removeItem(KEY_STORAGE);
  $("key-note").textContent = "";
  connectFeed();
  refreshStreams().then(() => { if (state.selected) selectStream(state.selected, { force: true }); });
}

// ---------------------------------------------------------------------------------------------
// streams

async function refreshStreams() {
  try {
    const { streams } = await api("/streams");
    const ids = new Set(streams.map((s) => s.id));
    for (const id of [...state.streams.keys()]) if (!ids.has(id)) state.streams.delete(id);
    for (const s of streams) state.streams.set(s.id, { ...(state.streams.get(s.id) || {}), ...s });
    renderStreams();
    if (state.selected && !state.streams.has(state.selected)) selectStream(null);
    if (!state.selected && streams.length) {
      const wanted = decodeURIComponent((location.hash.match(/stream=([^&]+)/) || [])[1] || "");
      selectStream(state.streams.has(wanted) ? wanted : streams[0].id);
    }
    if (state.feed && state.feed.readyState === EventSource.OPEN) setConn("live", "live");
  } catch (e) {
    if (e.status !== 401) console.warn("listing streams failed:", e.message);
  }
}

function streamMeta(s) {
  const parts = [];
  const t = s.t ?? 0;
  parts.push(s.duration ? `${fmtTime(t)} / ${fmtTime(s.duration)}` : fmtTime(t));
  if (s.state === "running" && s.fps) parts.push(`${Number(s.fps).toFixed(1)} fps`);
  const fired = s.alerts_fired ?? 0;
  parts.push(`${fired} alert${fired === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

function renderStreams() {
  const list = $("stream-list");
  const ids = [...state.streams.keys()].sort();
  $("no-streams").hidden = ids.length > 0;
  // Reuse rows so focus is kept while status messages update them.
  const rows = new Map([...list.children].map((li) => [li.dataset.id, li]));
  for (const [id, li] of rows) if (!state.streams.has(id)) li.remove();
  ids.forEach((id, i) => {
    const s = state.streams.get(id);
    let li = rows.get(id);
    if (!li) {
      li = buildStreamRow(id);
    }
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    updateStreamRow(li, s);
  });
}

function buildStreamRow(id) {
  const li = el("li", { class: "stream", "data-id": id });
  const select = el("button", { type: "button", class: "stream-select", onclick: () => selectStream(id) },
    el("span", { class: "stream-title" },
      el("span", { class: "stream-name", text: id }),
      el("span", { class: "badge state" }),
      el("span", { class: "badge unseen", hidden: true })),
    el("span", { class: "stream-source" }),
    el("span", { class: "stream-meta" }),
    el("span", { class: "stream-error", hidden: true }));
  const toggle = el("button", { type: "button", class: "toggle" });
  toggle.addEventListener("click", () => toggleStream(id));
  const del = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete stream ${id}`,
                             onclick: () => deleteStream(id) });
  li.append(select, el("div", { class: "stream-actions" }, toggle, del));
  return li;
}

function updateStreamRow(li, s) {
  const current = s.id === state.selected;
  li.setAttribute("aria-current", String(current));
  const select = li.querySelector(".stream-select");
  select.setAttribute("aria-pressed", String(current));
  select.setAttribute("aria-label", `Stream ${s.id}, ${s.state}${current ? ", selected" : ""}`);
  const badge = li.querySelector(".badge.state");
  badge.textContent = s.state;
  badge.dataset.state = s.state;
  li.querySelector(".stream-source").textContent = s.source || "";
  li.querySelector(".stream-source").title = s.source || "";
  li.querySelector(".stream-meta").textContent = streamMeta(s);
  const err = li.querySelector(".stream-error");
  err.hidden = !s.error;
  err.textContent = s.error || "";
  const unseen = state.unseen.get(s.id) || 0;
  const ub = li.querySelector(".badge.unseen");
  ub.hidden = !unseen;
  ub.textContent = unseen ? `${unseen} new` : "";
  ub.setAttribute("aria-label", `${unseen} new alert${unseen === 1 ? "" : "s"}`);
  const active = s.state === "running" || s.state === "starting";
  const toggle = li.querySelector(".toggle");
  toggle.textContent = active ? "Stop" : "Start";
  toggle.setAttribute("aria-label", `${active ? "Stop" : "Start"} stream ${s.id}`);
}

async function toggleStream(id) {
  const s = state.streams.get(id);
  const active = s && (s.state === "running" || s.state === "starting");
  try {
    const st = await api(`/streams/${encodeURIComponent(id)}/${active ? "stop" : "start"}`, { method: "POST" });
    state.streams.set(id, { ...s, ...st });
    renderStreams();
    if (id === state.selected) updateViewStatus();
  } catch (e) {
    flashRowError(id, e.message);
  }
}

async function deleteStream(id) {
  if (!confirm(`Delete stream "${id}" and its memory?`)) return;
  try {
    await api(`/streams/${encodeURIComponent(id)}`, { method: "DELETE" });
    state.streams.delete(id);
    state.chats.get(id)?.log.remove();
    state.chats.delete(id);
    if (state.selected === id) selectStream(null);
    renderStreams();
    const first = $("stream-list").querySelector(".stream-select");
    if (first) first.focus(); else $("add-source").focus();
  } catch (e) {
    flashRowError(id, e.message);
  }
}

function flashRowError(id, message) {
  const s = state.streams.get(id);
  if (s) { s.error = message; renderStreams(); }
}

async function addStream(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const errBox = $("add-error");
  errBox.textContent = "";
  const source = $("add-source").value.trim();
  if (!source) { errBox.textContent = "Give a source: a URL or a file path."; $("add-source").focus(); return; }
  const body = { source };
  const id = $("add-id").value.trim();
  if (id) body.id = id;
  const fps = $("add-fps").value.trim();
  if (fps) body.fps = Number(fps);
  const alerts = $("add-alerts").value.split("\n").map((a) => a.trim()).filter(Boolean);
  if (alerts.length) body.alerts = alerts;
  if ($("add-realtime").checked) body.realtime = true;
  const submit = $("add-submit");
  submit.disabled = true;
  submit.textContent = "Adding…";
  try {
    const st = await api("/streams", { method: "POST", body });
    state.streams.set(st.id, st);
    renderStreams();
    form.reset();
    selectStream(st.id);
  } catch (e) {
    errBox.textContent = e.message;
  } finally {
    submit.disabled = false;
    submit.textContent = "Add stream";
  }
}

// ---------------------------------------------------------------------------------------------
// selection: live view, chat log, timeline and alerts follow the selected stream

async function selectStream(id, { force = false } = {}) {
  if (id === state.selected && !force) return;
  state.selected = id;
  state.items = [];
  state.alerts = [];
  state.seen = new Set();
  state.focusT = null;
  if (id) state.unseen.delete(id);
  history.replaceState(null, "", id ? `#stream=${encodeURIComponent(id)}` : location.pathname);
  renderStreams();

  const img = $("live");
  if (id) {
    img.src = withKey(`/streams/${encodeURIComponent(id)}/live.mjpg?boxes=true`);
    img.alt = `Live view of stream ${id}, with what is detected boxed`;
    img.hidden = false;
    $("live-empty").hidden = true;
  } else {
    img.removeAttribute("src");
    img.hidden = true;
    $("live-empty").hidden = false;
  }
  for (const [sid, c] of state.chats) c.log.hidden = sid !== id;
  const chat = id ? chatFor(id) : null;
  $("chat-empty").hidden = !!(chat && chat.log.children.length);
  $("chat-input").disabled = !id;
  $("chat-submit").disabled = !id;
  $("chat-target").textContent = id ? `about ${id}` : "";
  $("alert-list").replaceChildren();
  renderAlerts();
  updateViewStatus();
  scheduleTimeline();
  if (!id) return;
  try {
    const h = await api(`/streams/${encodeURIComponent(id)}/history`);
    if (state.selected !== id) return;
    for (const e of h.events) addItem(e);
    for (const a of h.alerts) addAlert(a, { fresh: false });
  } catch (e) {
    console.warn("history failed:", e.message);
  }
}

function updateViewStatus() {
  const s = state.streams.get(state.selected);
  const box = $("view-status");
  if (!s) { box.textContent = ""; return; }
  const parts = [`${s.state}`, `t ${fmtTime(s.t)}${s.duration ? " / " + fmtTime(s.duration) : ""}`];
  if (s.fps) parts.push(`${Number(s.fps).toFixed(1)} fps`);
  if (s.speed) parts.push(`${Number(s.speed).toFixed(2)}× real time`);
  box.textContent = parts.join(" · ");
  const q = (s.alerts || []).join("; ");
  $("alert-queries").textContent = q ? `watching: ${q}` : "no alert queries";
  $("alert-queries").title = q;
}

// ---------------------------------------------------------------------------------------------
// the live feed of every stream (Server-Sent Events)

function connectFeed() {
  if (state.feed) state.feed.close();
  const feed = new EventSource(withKey("/events"));
  state.feed = feed;
  feed.onopen = () => { setConn("live", "live"); };
  feed.onerror = () => {
    if (feed !== state.feed) return;
    if (feed.readyState === EventSource.CLOSED) {
      // Refused (e.g. 401) or the server went away: find out why, then try again.
      setConn("down", "disconnected");
      refreshStreams();
      setTimeout(() => { if (feed === state.feed && !state.needKey) connectFeed(); }, 3000);
    } else {
      setConn("reconnecting", "reconnecting…");
    }
  };
  feed.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    onMessage(msg);
  };
}

function onMessage(msg) {
  const id = msg.stream;
  if (!id) return;
  switch (msg.type) {
    case "status": {
      const s = state.streams.get(id);
      if (!s) { refreshSoon(); return; }
      const upd = { ...msg };
      delete upd.type;
      state.streams.set(id, { ...s, ...upd });
      renderStreams();
      if (id === state.selected) { updateViewStatus(); scheduleTimeline(); }
      break;
    }
    case "event":
    case "speech":
      if (id === state.selected) addItem(msg);
      break;
    case "alert": {
      const s = state.streams.get(id);
      if (s) s.alerts_fired = (s.alerts_fired || 0) + 1;  // the next status message has the server's count
      if (id === state.selected) addAlert(msg, { fresh: true });
      else state.unseen.set(id, (state.unseen.get(id) || 0) + 1);
      renderStreams();
      break;
    }
    case "error": {
      const s = state.streams.get(id);
      if (s) { s.error = msg.message || "error"; renderStreams(); }
      break;
    }
    default:
      break;
  }
}

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refreshStreams(); }, 300);
}

// ---------------------------------------------------------------------------------------------
// timeline: events, sightings, gaps and alerts over stream time (SVG, redrawn at most once a frame)

function itemKey(m) {
  return [m.type, m.kind || "", m.t, m.start ?? "", m.track_id ?? "", m.query || ""].join("|");
}

function addItem(msg) {
  const k = itemKey(msg);
  if (state.seen.has(k)) {
    // An outage is announced open (end: null) and again once frames return: close the one shown.
    const open = msg.kind === "gap" && msg.end != null && state.items.find((m) => m.kind === "gap" && m.end == null && itemKey(m) === k);
    if (open) { open.end = msg.end; scheduleTimeline(); }
    return;
  }
  state.seen.add(k);
  state.items.push(msg);
  if (state.items.length > MAX_ITEMS * 3) state.items.splice(0, state.items.length - MAX_ITEMS * 3);
  scheduleTimeline();
}

let timelinePending = false;
function scheduleTimeline() {
  if (timelinePending) return;
  timelinePending = true;
  requestAnimationFrame(() => { timelinePending = false; drawTimeline(); });
}

function niceStep(span, target) {
  const raw = span / target;
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400]) {
    if (s >= raw) return s;
  }
  return 86400;
}

function drawTimeline() {
  const root = $("timeline");
  const W = Math.max(200, Math.round(root.getBoundingClientRect().width));
  const H = 160;
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  root.replaceChildren();
  const s = state.streams.get(state.selected);
  if (!s) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "row-label" }, "No stream selected"));
    $("timeline-summary").textContent = "No stream selected.";
    return;
  }
  const left = 58, right = 12;
  const now = Math.max(s.t || 0, ...state.items.map((m) => m.end ?? m.t ?? 0), ...state.alerts.map((a) => a.t));
  // The span grows with the stream (at least a minute, up to the file's length), or follows the last N seconds.
  const span = Number($("timeline-span").value) || 0;
  let start = 0, end;
  if (span) {
    end = Math.max(now, span);
    start = end - span;
  } else {
    end = Math.max(60, now * 1.1);
    if (s.duration) end = Math.min(end, Math.max(s.duration, now));
  }
  end = Math.max(end, start + 1);
  const inView = (t0, t1 = t0) => t1 >= start && t0 <= end;
  const x = (t) => left + ((Math.min(Math.max(t, start), end) - start) / (end - start)) * (W - left - right);
  const rows = { segment: 18, people: 48, alert: 78, speech: 108 };
  const rowH = 22;

  for (const [name, y] of [["events", rows.segment], ["people", rows.people], ["alerts", rows.alert],
                           ["speech", rows.speech]]) {
    root.append(svg("rect", { class: "lane", x: left, y, width: W - left - right, height: rowH, rx: 3 }));
    root.append(svg("text", { class: "row-label", x: 6, y: y + 15 }, name));
  }

  // axis
  const axis = svg("g", { class: "axis" });
  const step = niceStep(end - start, Math.max(2, Math.floor((W - left - right) / 80)));
  for (let t = Math.ceil(start / step) * step; t <= end + 1e-6; t += step) {
    const xx = x(t);
    axis.append(svg("line", { x1: xx, x2: xx, y1: rows.speech + rowH + 2, y2: rows.speech + rowH + 7 }));
    const anchor = xx - left < 20 ? "start" : W - right - xx < 20 ? "end" : "middle";
    axis.append(svg("text", { x: xx, y: H - 8, "text-anchor": anchor }, fmtTime(t)));
  }
  root.append(axis);

  let segments = 0, enters = 0, exits = 0;
  const segs = state.items.filter((m) => m.kind === "segment").slice(-MAX_ITEMS);
  for (const m of segs) {
    if (!inView(m.start ?? m.t, m.end ?? m.t)) continue;
    segments++;
    const x0 = x(m.start ?? m.t), x1 = Math.max(x(m.end ?? m.t), x0 + 3);
    const op = 0.3 + 0.7 * Math.min(1, Math.max(0, m.salience ?? 0.5));
    const label = `Event ${fmtTime(m.start ?? m.t)}–${fmtTime(m.end ?? m.t)}: ${m.summary || ""}`;
    const g = svg("g", { class: "mark segment-mark" },
      svg("title", {}, label),
      svg("rect", { class: "segment", x: x0, y: rows.segment + 3, width: x1 - x0, height: rowH - 6, rx: 2,
                    "fill-opacity": op.toFixed(2) }));
    if (m.keyframe_url) {
      g.addEventListener("click", () => openEvidence({ url: m.keyframe_url, t: m.start ?? m.t, title: "Event",
                                                       caption: m.summary }));
    }
    root.append(g);
  }
  for (const m of state.items.filter((m) => m.kind === "gap" && inView(m.t, m.end ?? now))) {
    const x0 = x(m.t), x1 = Math.max(x(m.end ?? now), x0 + 2);
    root.append(svg("rect", { class: "gap", x: x0, y: rows.segment, width: x1 - x0, height: rows.speech + rowH - rows.segment },
      svg("title", {}, `not seen ${fmtTime(m.t)}–${m.end != null ? fmtTime(m.end) : "now"}: ${m.reason || ""}`)));
  }
  const sightings = state.items.filter((m) => ["enter", "exit", "scene_cut"].includes(m.kind)).slice(-MAX_ITEMS);
  for (const m of sightings) {
    if (!inView(m.t)) continue;
    const xx = x(m.t);
    if (m.kind === "enter") enters++;
    if (m.kind === "exit") exits++;
    const cls = m.kind === "enter" ? "enter" : m.kind === "exit" ? "exit" : "cut";
    const y0 = m.kind === "exit" ? rows.people + rowH / 2 : rows.people + 3;
    const y1 = m.kind === "enter" ? rows.people + rowH / 2 : rows.people + rowH - 3;
    root.append(svg("line", { class: cls, x1: xx, x2: xx, y1: y0, y2: y1 },
      svg("title", {}, `${fmtTime(m.t)} ${m.label || ""} ${m.kind}`)));
  }

  // speech: one bar per utterance, its words in the tooltip
  let utterances = 0;
  for (const m of state.items.filter((m) => m.type === "speech").slice(-MAX_ITEMS)) {
    if (!inView(m.t, m.end ?? m.t)) continue;
    utterances++;
    const x0 = x(m.t), x1 = Math.max(x(m.end ?? m.t), x0 + 3);
    root.append(svg("rect", { class: "speech", x: x0, y: rows.speech + 4, width: x1 - x0, height: rowH - 8, rx: 2 },
      svg("title", {}, `${fmtTime(m.t)}–${fmtTime(m.end ?? m.t)} said: “${m.text || ""}”`)));
  }

  // alerts: focusable markers
  const shownAlerts = state.alerts.filter((a) => inView(a.t));
  for (const a of shownAlerts) {
    const label = `Alert at ${fmtTime(a.t)}: ${a.query}`;
    const g = svg("g", { class: "mark alert-mark", tabindex: "0", role: "button", "aria-label": label,
                         "data-t": a.t },
      svg("title", {}, label),
      svg("circle", { cx: x(a.t), cy: rows.alert + rowH / 2, r: 5.5 }));
    const open = () => openAlert(a);
    g.addEventListener("click", open);
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
    root.append(g);
  }

  if (state.focusT != null && inView(state.focusT)) {
    root.append(svg("line", { class: "focus-t", x1: x(state.focusT), x2: x(state.focusT), y1: 10, y2: rows.speech + rowH + 4 }));
  }
  const nx = x(s.t || 0);
  root.append(svg("line", { class: "now", x1: nx, x2: nx, y1: 10, y2: rows.speech + rowH + 4 },
    svg("title", {}, `now: ${fmtTime(s.t)}`)));

  $("timeline-summary").textContent =
    `Stream ${s.id} from ${fmtTime(start)} to ${fmtTime(end)}: ${segments} events, ${enters} entries, ` +
    `${exits} exits, ${shownAlerts.length} alerts, ${utterances} things said. Alert markers can be focused and opened.`;
}

window.addEventListener("resize", scheduleTimeline);
$("timeline-span").addEventListener("change", scheduleTimeline);

// ---------------------------------------------------------------------------------------------
// alerts panel

function addAlert(a, { fresh }) {
  const k = itemKey({ ...a, type: "alert" });
  if (state.seen.has(k)) return;
  state.seen.add(k);
  state.alerts.push(a);
  state.alerts.sort((p, q) => p.t - q.t);
  if (state.alerts.length > MAX_ITEMS) state.alerts.splice(0, state.alerts.length - MAX_ITEMS);
  const li = el("li", { "data-t": a.t });
  const thumb = a.keyframe_url
    ? el("img", { src: withKey(a.keyframe_url), alt: "", loading: "lazy", width: 64, height: 48 })
    : el("span", { class: "noimg", "aria-hidden": "true" });
  const wall = a.wall ? new Date(a.wall * 1000).toLocaleTimeString() : "";
  const btn = el("button", { type: "button", class: "alert-item" + (fresh ? " fresh" : ""),
                             "aria-label": `Alert at ${fmtTime(a.t)}: ${a.query}. Show keyframe.`,
                             onclick: () => openAlert(a) },
    thumb,
    el("span", {},
      el("span", { class: "what", text: a.query }),
      el("span", { class: "when", text: `at ${fmtTime(a.t)}${wall ? " · " + wall : ""}` })));
  li.append(btn);
  // Newest first: insert before the first shown alert that is older.
  const list = $("alert-list");
  const after = [...list.children].find((c) => Number(c.dataset.t) <= a.t);
  list.insertBefore(li, after || null);
  while (list.children.length > MAX_ALERTS_SHOWN) list.lastElementChild.remove();
  renderAlerts();
  scheduleTimeline();
}

function renderAlerts() {
  const n = state.alerts.length;
  $("alert-count").textContent = String(n);
  $("alerts-empty").hidden = n > 0;
  $("alerts-empty").textContent = state.selected ? "No alerts yet." : "Select a stream to see its alerts.";
}

function describeObservation(o) {
  const a = o.attrs || {};
  const how = [a.edge && a.edge !== "inside" ? `at the ${a.edge} edge` : "",
               a.colors && a.colors.length ? `wearing ${a.colors.join("/")}` : ""].filter(Boolean).join(", ");
  const verb = { enter: "entered", exit: "left", scene_cut: "scene change", motion: "motion" }[o.kind];
  const what = o.kind === "text" ? `text “${o.label}”` : verb ? `${o.label && o.kind !== "scene_cut" ? o.label + " " : ""}${verb}`
    : [o.label, o.kind].filter(Boolean).join(" ");
  return how ? `${what} (${how})` : what;
}

function openAlert(a) {
  const seen = (a.evidence || []).map(describeObservation).join("; ");
  const boxes = (a.evidence || []).map((o) => o.box).filter((b) => Array.isArray(b) && b.length === 4);
  openEvidence({ url: a.keyframe_url, t: a.t, title: `Alert: ${a.query}`, caption: seen ? `Seen: ${seen}.` : "",
                 boxes });
}

// ---------------------------------------------------------------------------------------------
// evidence dialog

function placeEvidenceBoxes() {
  // Outline what the alert saw (boxes are fractions of the picture; the image is letterboxed by object-fit).
  const img = $("evidence-img");
  const frame = $("evidence-frame");
  frame.querySelectorAll(".evidence-box").forEach((b) => b.remove());
  if (img.hidden || !img.naturalWidth) return;
  const w = img.clientWidth, h = img.clientHeight;
  const scale = Math.min(w / img.naturalWidth, h / img.naturalHeight);
  const cw = img.naturalWidth * scale, ch = img.naturalHeight * scale;
  const ox = img.offsetLeft + (w - cw) / 2, oy = img.offsetTop + (h - ch) / 2;
  for (const [x0, y0, x1, y1] of state.evidenceBoxes) {
    const b = el("div", { class: "evidence-box", "aria-hidden": "true" });
    Object.assign(b.style, { left: `${ox + x0 * cw}px`, top: `${oy + y0 * ch}px`,
                             width: `${Math.max(2, (x1 - x0) * cw)}px`, height: `${Math.max(2, (y1 - y0) * ch)}px` });
    frame.append(b);
  }
}

function openEvidence({ url, t, title, caption, boxes = [] }) {
  const dlg = $("evidence");
  state.evidenceBoxes = boxes;
  $("evidence-frame").querySelectorAll(".evidence-box").forEach((b) => b.remove());
  $("evidence-title").textContent = `${title || "Evidence"} · ${fmtTime(t)}`;
  const img = $("evidence-img");
  if (url) {
    img.src = withKey(url);
    img.alt = `Keyframe at ${fmtTime(t)}${caption ? ": " + caption : ""}`;
    img.hidden = false;
  } else {
    img.removeAttribute("src");
    img.hidden = true;
  }
  $("evidence-caption").textContent = url ? (caption || "") : `No keyframe is stored near ${fmtTime(t)}. ${caption || ""}`;
  state.focusT = t;
  scheduleTimeline();
  if (!dlg.open) dlg.showModal();
  if (url && img.complete) placeEvidenceBoxes();
}

// ---------------------------------------------------------------------------------------------
// chat: POST /streams/{id}/ask with stream=true, read the SSE body as it arrives

function chatFor(id) {
  let chat = state.chats.get(id);
  if (!chat) {
    chat = { log: el("ol", { class: "chat-log", "aria-live": "polite", "aria-label": `Questions about ${id}` }),
             conversation: null };
    $("chat-logs").append(chat.log);
    state.chats.set(id, chat);
  }
  return chat;
}

function renderAnswerText(node, text, evidence, streamId) {
  node.replaceChildren();
  let last = 0;
  for (const m of text.matchAll(TS_RE)) {
    if (m.index > last) node.append(text.slice(last, m.index));
    const t = parseTs(m[1], m[2], m[3]);
    const stamp = m[0];
    node.append(el("button", { type: "button", class: "ts", "aria-label": `Show the keyframe at ${stamp}`,
                               onclick: () => showMoment(streamId, stamp, t, evidence()) }, stamp));
    last = m.index + stamp.length;
  }
  if (last < text.length) node.append(text.slice(last));
}

function showMoment(streamId, stamp, t, evidence) {
  // The answer's own evidence first (same printed time, else the nearest with a keyframe),
  // then anything on the timeline near that time.
  const withKf = (evidence || []).filter((e) => e.keyframe_url);
  let best = withKf.find((e) => e.time === stamp);
  if (!best && withKf.length) best = withKf.reduce((p, q) => (Math.abs(q.t - t) < Math.abs(p.t - t) ? q : p));
  if (best && Math.abs(best.t - t) > 5 && best.time !== stamp) best = null;
  if (best) {
    openEvidence({ url: best.keyframe_url, t: best.t, title: "Evidence", caption: best.description });
    return;
  }
  const pool = streamId === state.selected ? [...state.alerts, ...state.items].filter((m) => m.keyframe_url) : [];
  let near = null;
  for (const m of pool) {
    const mt = m.kind === "segment" ? (m.start ?? m.t) : m.t;
    if (Math.abs(mt - t) <= 5 && (!near || Math.abs(mt - t) < near.d)) near = { m, d: Math.abs(mt - t) };
  }
  if (near) {
    openEvidence({ url: near.m.keyframe_url, t, title: "Nearest keyframe",
                   caption: near.m.summary || near.m.query || near.m.kind });
  } else {
    openEvidence({ url: null, t, title: "Evidence", caption: "" });
  }
}

async function ask(ev) {
  ev.preventDefault();
  const id = state.selected;
  const input = $("chat-input");
  const question = input.value.trim();
  if (!id || !question) return;
  const chat = chatFor(id);
  $("chat-empty").hidden = true;
  input.value = "";
  chat.log.append(el("li", { class: "msg q", text: question }));
  const text = el("span", { class: "text" });
  const meta = el("span", { class: "meta" });
  const bubble = el("li", { class: "msg a", "aria-busy": "true" }, text, meta);
  chat.log.append(bubble);
  scrollChat();
  let full = "";
  let chunks = 0;
  let evidence = [];
  const getEvidence = () => evidence;
  try {
    const resp = await api(`/streams/${encodeURIComponent(id)}/ask`, {
      method: "POST", raw: true, body: { question, stream: true, conversation_id: chat.conversation || undefined },
    });
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let answer = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buf += decoder.decode(value, { stream: true });
      if (done) buf += decoder.decode();
      let cut;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, "");
        const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (!data) continue;
        let msg;
        try { msg = JSON.parse(data); } catch { continue; }
        if (msg.type === "chunk") {
          full += msg.text;
          bubble.dataset.chunks = String(++chunks);
          renderAnswerText(text, full, getEvidence, id);
          scrollChat();
        } else if (msg.type === "answer") {
          answer = msg;
        } else if (msg.type === "error") {
          throw new ApiError(500, (msg.error && msg.error.message) || "the answer failed");
        }
      }
      if (done) break;
    }
    if (!answer) throw new ApiError(0, "the answer ended early");
    evidence = answer.evidence || [];
    chat.conversation = answer.conversation_id || chat.conversation;
    full = answer.text;
    renderAnswerText(text, full, getEvidence, id);
    if (answer.abstained) bubble.classList.add("abstained");
    const conf = answer.confidence != null ? `confidence ${(answer.confidence * 100).toFixed(0)}%` : "";
    meta.textContent = [answer.abstained ? "not sure" : "", conf, `as of ${fmtTime(answer.t)}`].filter(Boolean).join(" · ");
  } catch (e) {
    bubble.className = "msg err";
    text.textContent = full ? full + "\n" : "";
    meta.textContent = `Could not answer: ${e.message}`;
    meta.style.color = "inherit";
  } finally {
    bubble.setAttribute("aria-busy", "false");
    scrollChat();
  }
}

function scrollChat() {
  const box = $("chat-logs");
  box.scrollTop = box.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// start

function init() {
  $("add-form").addEventListener("submit", addStream);
  $("chat-form").addEventListener("submit", ask);
  $("key-toggle").addEventListener("click", () => { showKeyForm(true); $("api-key").focus(); });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setKey($("api-key").value.trim());
    if (state.key) showKeyForm(false);
  });
  $("key-forget").addEventListener("click", () => { setKey(""); showKeyForm(false); $("key-toggle").focus(); });
  $("key-form").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !state.needKey) { showKeyForm(false); $("key-toggle").focus(); }
  });
  $("evidence-img").addEventListener("load", placeEvidenceBoxes);
  window.addEventListener("resize", () => { if ($("evidence").open) placeEvidenceBoxes(); });
  $("live").addEventListener("error", () => {
    // The live view ends when the stream is deleted or the server restarts: retry while it is selected.
    const id = state.selected;
    setTimeout(() => {
      if (id && id === state.selected && state.streams.has(id)) {
        $("live").src = withKey(`/streams/${encodeURIComponent(id)}/live.mjpg?boxes=true&r=${Date.now()}`);
      }
    }, 3000);
  });
  renderAlerts();
  scheduleTimeline();
  connectFeed();
  refreshStreams();
  setInterval(refreshStreams, 10000);
}

init();
