// /: the executions, newest first, with filters and search; live over WS /api/executions/stream.
"use strict";

window.pageInit = (main) => {
  const { api, el, badge, bar, setBar } = PX;
  const rows = new Map();   // execution id -> { ex, tr }
  const plans = new Map();  // plan id -> title
  const agents = new Map(); // agent id -> name
  const STATUSES = ["CREATED", "QUEUED", "RUNNING", "PAUSED", "BLOCKED", "NEEDS_REVIEW", "COMPLETED", "FAILED", "CANCELLED"];

  const search = el("input", { type: "search", placeholder: "Execution id or plan title", "aria-label": "Search by execution id or plan title", oninput: filter });
  const status = el("select", { "aria-label": "Filter by status", onchange: filter }, el("option", { value: "" }, "Any status"), STATUSES.map((s) => el("option", { value: s }, s)));
  const plan = el("select", { "aria-label": "Filter by plan", onchange: filter }, el("option", { value: "" }, "Any plan"));
  const agent = el("select", { "aria-label": "Filter by agent", onchange: filter }, el("option", { value: "" }, "Any agent"));
  const body = el("tbody", { id: "executions" });
  const summary = el("p", { class: "muted", "aria-live": "polite" });
  const error = el("p", { class: "error", role: "alert" });
  main.replaceChildren(
    el("h1", null, "Executions"),
    el("div", { class: "filters", role: "search" },
      el("label", null, "Search", search), el("label", null, "Status", status),
      el("label", null, "Plan", plan), el("label", null, "Agent", agent)),
    error, summary,
    el("div", { class: "card" }, el("table", { class: "responsive" },
      el("thead", null, el("tr", null, ["Execution", "Plan", "Agent", "Status", "Progress", "Updated"].map((h) => el("th", { scope: "col" }, h)))),
      body)));

  function row(ex) {
    const progress = bar(true);
    setBar(progress, ex.progress, ex.status);
    progress.setAttribute("aria-label", `Progress of ${ex.id}`);
    return el("tr", { "data-id": ex.id },
      el("td", { class: "id", "data-label": "Execution" }, el("a", { href: `/executions/${ex.id}` }, ex.id)),
      el("td", { "data-label": "Plan" }, el("a", { href: `/plans/${ex.plan_id}` }, plans.get(ex.plan_id) || PX.short(ex.plan_id))),
      el("td", { "data-label": "Agent" }, agents.get(ex.agent_id) || PX.short(ex.agent_id)),
      el("td", { "data-label": "Status", class: "status" }, badge(ex.status)),
      el("td", { "data-label": "Progress" }, progress),
      el("td", { "data-label": "Updated", class: "updated" }, PX.time(ex.updated_at)));
  }

  function render(list) {
    rows.clear();
    body.replaceChildren(...list.map((ex) => { const tr = row(ex); rows.set(ex.id, { ex, tr }); return tr; }));
    filter();
  }

  function filter() {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    for (const { ex, tr } of rows.values()) {
      const title = (plans.get(ex.plan_id) || "").toLowerCase();
      const ok = (!q || ex.id.includes(q) || title.includes(q)) && (!status.value || ex.status === status.value)
        && (!plan.value || ex.plan_id === plan.value) && (!agent.value || ex.agent_id === agent.value);
      tr.hidden = !ok;
      if (ok) shown += 1;
    }
    summary.textContent = `${shown} of ${rows.size} executions shown`;
  }

  let refetch = null;
  function onMessage(msg) {
    if (msg.type === "snapshot") { render(msg.executions || []); return; }
    if (msg.type !== "update") return;
    const r = rows.get(msg.execution_id);
    if (!r) {
      // A new execution: take a fresh list (at most every second).
      if (!refetch) refetch = setTimeout(() => { refetch = null; live.send({ type: "snapshot" }); }, 1000);
      return;
    }
    if (msg.version !== undefined && r.ex.version !== undefined && msg.version < r.ex.version) return;
    Object.assign(r.ex, { status: msg.status, progress: msg.progress, version: msg.version, updated_at: msg.timestamp });
    r.tr.querySelector(".status").replaceChildren(badge(msg.status));
    setBar(r.tr.querySelector("[role=progressbar]"), msg.progress, msg.status);
    r.tr.querySelector(".updated").textContent = PX.time(msg.timestamp);
    filter();
  }

  let live = null;
  (async () => {
    try {
      const p = await api("GET", "/api/plans?limit=200");
      for (const x of p.plans || []) { plans.set(x.id, x.title); plan.append(el("option", { value: x.id }, x.title)); }
    } catch (e) { error.textContent = `Loading the plans failed: ${e.message}`; }
    try {
      const a = await api("GET", "/api/agents");
      for (const x of a.agents || []) { agents.set(x.id, x.name); agent.append(el("option", { value: x.id }, x.name)); }
    } catch (e) { error.textContent = `Loading the agents failed: ${e.message}`; }
    live = PX.stream("/api/executions/stream", { onMessage });
  })();
};
