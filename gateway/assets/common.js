// Shared by every page: the operator token, API calls, the live stream with reconnection, and
// small DOM helpers. Plain JavaScript, no build step.
"use strict";

const PX = (() => {
  const KEY = "planexec.token";

  // The token arrives once as ?token=...; it is kept for this tab and removed from the URL.
  function takeTokenFromUrl() {
    const url = new URL(location.href);
    const token = url.searchParams.get("token");
    if (token) {
      sessionStorage.setItem(KEY, token);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }

  function token() { return sessionStorage.getItem(KEY); }

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem && (problem.detail || problem.title) ? `${problem.title || "Error"}: ${problem.detail || ""}` : `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + token() };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, { title: "Network error", detail: "the server cannot be reached" });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text.slice(0, 300) }; }
    if (response.status === 401) showSignIn("The token was refused; sign in again.");
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // The connection indicator in the header: state is idle, connecting, live, retrying or offline.
  function indicate(state, label) {
    const el = document.getElementById("conn");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".label").textContent = label;
  }

  // A WebSocket that reconnects with exponential back-off (0.5 s doubling to 5 s). handlers:
  // onMessage(msg), onOpen(). Returns { send(obj), close() }.
  function stream(path, handlers) {
    let ws = null, delay = 500, closed = false, timer = null, attempt = 0;
    function url() {
      return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
    }
    function open() {
      attempt += 1;
      indicate("connecting", attempt > 1 ? `Reconnecting (attempt ${attempt})…` : "Connecting…");
      try {
        ws = new WebSocket(url(), ["planexec", "bearer." + token()]);
      } catch (e) {
        // A token that is not a valid subprotocol name travels in the query instead.
        ws = new WebSocket(url() + "?token=" + encodeURIComponent(token()), ["planexec"]);
      }
      ws.onopen = () => { delay = 500; attempt = 0; indicate("live", "Live"); if (handlers.onOpen) handlers.onOpen(); };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        handlers.onMessage(msg);
      };
      ws.onclose = (ev) => {
        if (closed) return;
        if (ev.code === 1008 && /no such execution/.test(ev.reason)) { indicate("offline", "Not found"); return; }
        const secs = Math.round(delay / 100) / 10;
        indicate("retrying", `Disconnected; retrying in ${secs} s`);
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 5000);
      };
    }
    open();
    return {
      send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); },
      close() { closed = true; clearTimeout(timer); if (ws) ws.close(); },
    };
  }

  function showSignIn(message) {
    const form = document.getElementById("signin");
    form.hidden = false;
    document.getElementById("main").hidden = true;
    document.getElementById("signin-error").textContent = message || "";
    document.getElementById("signin-token").focus();
  }

  // el("div", {class: "x", onclick: f}, child, "text", ...)
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // Replaces a node's children, leaving out the absent ones (replaceChildren would print "null").
  function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  // Status is never shown by colour alone: an icon and the word, coloured.
  const ICONS = {
    COMPLETED: "✓", SKIPPED: "↷", RUNNING: "▶", DISPATCHED: "↗", QUEUED: "…", CREATED: "…",
    PENDING: "○", READY: "◇", RETRY_WAIT: "↻", BLOCKED: "!", NEEDS_REVIEW: "?", PAUSED: "❚❚",
    FAILED: "✗", CANCELLED: "⊘",
  };
  function icon(status) { return ICONS[status] || "·"; }
  function badge(status) {
    return el("span", { class: `badge s-${status}` }, el("span", { "aria-hidden": "true" }, icon(status)), status);
  }

  // A progress bar as assistive technology (and tests) read it: role=progressbar, aria-valuenow.
  function bar(small) {
    const e = el("div", { class: "bar" + (small ? " small" : ""), role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" },
      el("div", { class: "fill" }), el("span", { class: "pct" }, "0%"));
    return e;
  }
  function setBar(e, progress, status, label) {
    const p = Math.max(0, Math.min(100, Number(progress) || 0));
    e.setAttribute("aria-valuenow", String(Math.round(p * 10) / 10));
    e.setAttribute("aria-valuetext", `${p.toFixed(1)}% ${status || ""}`.trim());
    if (status) e.dataset.status = status;
    e.querySelector(".fill").style.width = p + "%";
    e.querySelector(".pct").textContent = label || `${p.toFixed(1)}%`;
  }

  function time(t) {
    if (!t) return "—";
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleTimeString();
  }
  function dateTime(t) {
    if (!t) return "—";
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleString();
  }
  function ago(t) {
    if (!t) return "never";
    const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  }
  function short(id) { return String(id || "").slice(0, 8); }

  function start() {
    takeTokenFromUrl();
    const form = document.getElementById("signin");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = document.getElementById("signin-token").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY, value);
      form.hidden = true;
      document.getElementById("main").hidden = false;
      location.reload();
    });
    if (!token()) { showSignIn(); return; }
    if (window.pageInit) window.pageInit(document.getElementById("main"));
  }
  document.addEventListener("DOMContentLoaded", start);

  return { api, stream, el, fill, badge, icon, bar, setBar, time, dateTime, ago, short, indicate, ApiError };
})();
