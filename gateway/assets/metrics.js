// /metrics-overview: GET /api/admin/metrics as small charts, over a chosen window, refreshed.
"use strict";

window.pageInit = (main) => {
  const { api, el, fill, badge } = PX;
  const WINDOWS = [["1 hour", 1], ["24 hours", 24], ["7 days", 168], ["30 days", 720]];
  const choice = el("select", { "aria-label": "Window", onchange: load },
    WINDOWS.map(([label, hours]) => el("option", { value: String(hours), selected: hours === 24 }, label)));
  const figures = el("div", { class: "kpis" });
  const statuses = el("div", { class: "card" });
  const durations = el("div", { class: "card" });
  const errors = el("div", { class: "card" });
  const agents = el("div", { class: "card" });
  const recent = el("div", { class: "card" });
  const error = el("p", { class: "error", role: "alert" });
  main.replaceChildren(el("h1", null, "Metrics"),
    el("div", { class: "filters" }, el("label", null, "Window", choice)), error, figures,
    el("div", { class: "charts" }, statuses, durations, errors, agents), recent);

  const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
  const secs = (x) => (x === null || x === undefined ? "—" : x < 120 ? `${x.toFixed(1)} s` : `${(x / 60).toFixed(1)} min`);
  const kpi = (label, value, note) => el("div", { class: "kpi card" },
    el("div", { class: "muted" }, label), el("div", { class: "value" }, value), note ? el("div", { class: "muted" }, note) : null);

  // The page's policy allows no inline style attributes: the width is set through the DOM.
  function fillOf(row, max) {
    const fill = el("span", { class: `fill ${row.tone || ""}` });
    fill.style.width = `${(100 * row.value) / max}%`;
    return fill;
  }

  // A horizontal bar chart: each row says its label and value in text; the bar only shows size.
  function chart(title, rows, format = String) {
    const max = Math.max(1, ...rows.map((r) => r.value));
    return [el("h2", null, title), rows.length === 0 ? el("p", { class: "muted" }, "Nothing in this window.") :
      el("ul", { class: "hbars", "aria-label": title }, rows.map((r) => el("li", null,
        el("span", { class: "label" }, r.label),
        el("span", { class: "track", "aria-hidden": "true" }, fillOf(r, max)),
        el("span", { class: "num" }, format(r.value)))))];
  }

  function render(m) {
    const e = m.executions, d = m.durations, x = m.errors, a = m.agents;
    fill(figures,
      kpi("Success rate", pct(e.success_rate), `${e.finished} finished of ${e.total}`),
      kpi("Execution time", secs(d.execution_seconds.avg), `p50 ${secs(d.execution_seconds.p50)} · p95 ${secs(d.execution_seconds.p95)}`),
      kpi("Task time", secs(d.task_seconds.avg), `p50 ${secs(d.task_seconds.p50)} · p95 ${secs(d.task_seconds.p95)}`),
      kpi("Task error rate", pct(x.task_error_rate), `${x.task_failures} failed, ${x.timeouts} timed out`),
      kpi("Agents online", `${a.online} of ${a.total}`, `${a.busy} busy`));
    fill(statuses, chart("Executions by status", Object.entries(e.by_status).map(([s, n]) =>
      ({ label: badge(s), value: n, tone: `s-${s}` }))));
    fill(durations, chart("Durations (seconds)", [
      { label: "execution p50", value: d.execution_seconds.p50 || 0 },
      { label: "execution p95", value: d.execution_seconds.p95 || 0 },
      { label: "task p50", value: d.task_seconds.p50 || 0 },
      { label: "task p95", value: d.task_seconds.p95 || 0 },
    ], (v) => secs(v)));
    const rejected = Object.entries(x.rejected_events).map(([reason, n]) => ({ label: `rejected: ${reason}`, value: n, tone: "warn" }));
    fill(errors, chart("Errors by type", [
      { label: "task failures", value: x.task_failures, tone: "bad" },
      { label: "time-outs", value: x.timeouts, tone: "warn" },
      { label: "retries", value: x.retries },
      { label: "given up", value: x.gave_up, tone: "bad" },
      { label: "dead letters", value: x.dead_letters, tone: "bad" },
      ...rejected,
    ].filter((r) => r.value > 0)));
    fill(agents, chart("Tasks completed by agent", a.per_agent.map((p) =>
      ({ label: `${p.name}${p.failed ? ` (${p.failed} failed)` : ""}`, value: p.completed }))));
    fill(recent, el("h2", null, "Newest errors"), m.recent_errors.length === 0 ? el("p", { class: "muted" }, "No errors in this window.") :
      el("table", { class: "responsive" },
        el("thead", null, el("tr", null, ["When", "Kind", "Execution", "Message"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", null, m.recent_errors.map((r) => el("tr", null,
          el("td", { "data-label": "When" }, PX.dateTime(r.at)),
          el("td", { "data-label": "Kind" }, r.kind),
          el("td", { "data-label": "Execution", class: "id" }, el("a", { href: `/executions/${r.execution_id}` }, PX.short(r.execution_id))),
          el("td", { "data-label": "Message" }, r.message || "—"))))));
  }

  async function load() {
    const since = new Date(Date.now() - Number(choice.value) * 3600 * 1000).toISOString();
    try {
      render(await api("GET", `/api/admin/metrics?since=${encodeURIComponent(since)}`));
      error.textContent = "";
      PX.indicate("live", "Refreshed " + new Date().toLocaleTimeString());
    } catch (e) { error.textContent = `Loading the metrics failed: ${e.message}`; PX.indicate("offline", "Offline"); }
  }
  load();
  setInterval(load, 10000);
};
