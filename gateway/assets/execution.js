// /executions/{id}: one execution, live over WS /api/executions/{id}/stream. A snapshot replaces
// everything; an update moves the figures, the tree and the log; a heartbeat refreshes the
// figures. The page never reloads itself.
"use strict";

window.pageInit = (main) => {
  const { api, el, badge, bar, setBar } = PX;
  const id = decodeURIComponent(location.pathname.split("/")[2] || "");
  const MAX_EVENTS = 500;
  let current = null;       // the execution's figures, newest known
  let version = -1;
  const events = new Map(); // seq -> event
  let agents = [];

  const statusEl = el("span", { id: "status", "aria-live": "polite" });
  const progress = bar(false);
  progress.id = "progress";
  progress.setAttribute("aria-label", "Progress of the execution");
  const figures = el("div", { class: "meta", id: "figures" });
  const error = el("p", { class: "error", role: "alert", id: "action-error" });
  const pauseBtn = el("button", { type: "button", onclick: () => setStatus("PAUSED") }, "Pause");
  const resumeBtn = el("button", { type: "button", class: "primary", onclick: () => setStatus("RUNNING") }, "Resume");
  const cancelBtn = el("button", { type: "button", class: "danger", onclick: () => {
    if (confirm("Cancel this execution? Its running tasks are stopped.")) setStatus("CANCELLED");
  } }, "Cancel");
  const agentSelect = el("select", { "aria-label": "Agent to reassign to", id: "reassign-agent" });
  const reassignBtn = el("button", { type: "button", onclick: reassign }, "Reassign");
  const blocker = el("section", { class: "card blocker", hidden: true, "aria-label": "Blocked or needs attention" });
  const treeBox = el("div", { class: "tree", id: "tree" });
  const logFilter = el("select", { "aria-label": "Filter events by type", onchange: renderLog }, el("option", { value: "" }, "All types"));
  const logList = el("ol", { id: "events", "aria-live": "off" });
  const title = el("h1", null, "Execution ", el("span", { class: "muted" }, id));
  const planLink = el("a", { href: "#" }, "plan");
  const tree = new TaskTree.Tree(treeBox, { resolve });

  main.replaceChildren(
    title,
    el("section", { class: "card", "aria-label": "Status" },
      el("div", { class: "meta" }, el("span", null, "Status ", statusEl), el("span", null, "Plan ", planLink)),
      progress, figures,
      el("div", { class: "controls", role: "group", "aria-label": "Execution controls" },
        pauseBtn, resumeBtn, cancelBtn, el("span", { class: "muted" }, "·"), agentSelect, reassignBtn),
      error),
    blocker,
    el("div", { class: "grid" },
      el("section", { class: "card", "aria-label": "Task tree" }, el("h2", null, "Tasks"), treeBox),
      el("section", { class: "card", "aria-label": "Event log" },
        el("h2", null, "Events ", logFilter),
        el("div", { class: "log", tabindex: "0" }, logList))));

  async function act(what, fn) {
    error.textContent = "";
    try { return await fn(); } catch (e) { error.textContent = `${what} failed: ${e.message}`; return null; }
  }

  async function setStatus(status) {
    const names = { PAUSED: "Pause", RUNNING: "Resume", CANCELLED: "Cancel" };
    const ex = await act(names[status], () => api("PATCH", `/api/executions/${id}`, { status }));
    if (ex) figuresOf(ex);
  }

  async function reassign() {
    if (!agentSelect.value) { error.textContent = "Choose an agent to reassign to."; return; }
    const ex = await act("Reassign", () => api("POST", `/api/executions/${id}/reassign`, { agent_id: agentSelect.value }));
    if (ex) figuresOf(ex);
  }

  async function resolve(taskId, action, output) {
    const names = { retry: "Retry", skip: "Skip", complete: "Complete" };
    const body = output === undefined ? { action } : { action, output };
    const ex = await act(names[action], () =>
      api("POST", `/api/executions/${id}/tasks/${taskId}/resolve`, body));
    if (ex) figuresOf(ex);
  }

  // The figures of an execution (a snapshot's, an update's, a heartbeat's or an API answer's).
  function figuresOf(x) {
    if (x.version !== undefined && x.version < version) return;
    if (x.version !== undefined) version = x.version;
    current = Object.assign(current || {}, x);
    const s = current.status;
    statusEl.replaceChildren(badge(s));
    const counts = tree.counts();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const done = (counts.COMPLETED || 0) + (counts.SKIPPED || 0);
    setBar(progress, current.progress, s, total ? `${Number(current.progress).toFixed(1)}% · ${done}/${total} tasks` : undefined);
    PX.fill(figures,
      current.current_task ? el("span", null, "Current ", el("b", null, `${current.current_task.wbs} ${current.current_task.title}`)) : null,
      el("span", null, "Running ", el("b", null, String((counts.RUNNING || 0) + (counts.DISPATCHED || 0)))),
      el("span", null, "Failed ", el("b", null, String(counts.FAILED || 0))),
      el("span", null, "Version ", el("b", null, String(version))),
      current.started_at ? el("span", null, "Started ", el("b", null, PX.dateTime(current.started_at))) : null);
    const terminal = ["COMPLETED", "FAILED", "CANCELLED"].includes(s);
    pauseBtn.disabled = terminal || s === "PAUSED";
    resumeBtn.disabled = s !== "PAUSED";
    cancelBtn.disabled = terminal;
    reassignBtn.disabled = terminal;
    renderBlocker();
  }

  function renderBlocker() {
    const s = current.status;
    const advice = {
      BLOCKED: "Something stops progress. Reassign the work to an agent that has the capability, or retry, skip or complete the failed task in the tree.",
      NEEDS_REVIEW: "The plan's decomposition needs an operator's review: open the plan, check the capabilities and approve it.",
      PAUSED: "Paused by an operator: no new task is dispatched. Resume to continue.",
      FAILED: "The execution failed. Open the failed task in the tree for its error.",
    }[s];
    if (!advice) { blocker.hidden = true; return; }
    blocker.hidden = false;
    PX.fill(blocker,
      el("h2", null, s === "PAUSED" ? "Paused" : s === "NEEDS_REVIEW" ? "Needs review" : s === "FAILED" ? "Failed" : "Blocked"),
      current.blocked_reason ? el("p", null, "Why: ", el("b", null, current.blocked_reason)) : null,
      current.blocked_detail ? el("p", null, current.blocked_detail) : null,
      current.updated_at ? el("p", { class: "muted" }, "Since ", PX.dateTime(current.updated_at)) : null,
      el("p", null, advice),
      s === "NEEDS_REVIEW" && current.plan_id ? el("a", { href: `/plans/${current.plan_id}` }, "Review the plan") : null);
  }

  function addEvents(list) {
    for (const e of list || []) events.set(e.seq, e);
    if (events.size > MAX_EVENTS) {
      const keys = [...events.keys()].sort((a, b) => a - b);
      for (const k of keys.slice(0, events.size - MAX_EVENTS)) events.delete(k);
    }
    const types = new Set([...events.values()].map((e) => e.event_type));
    const have = new Set([...logFilter.options].map((o) => o.value));
    for (const t of [...types].sort()) if (!have.has(t)) logFilter.append(el("option", { value: t }, t));
    renderLog();
  }

  function renderLog() {
    const only = logFilter.value;
    const items = [...events.values()].filter((e) => !only || e.event_type === only).sort((a, b) => b.seq - a.seq).slice(0, 200);
    logList.replaceChildren(...items.map((e) => {
      const wbs = e.task_id ? tree.wbsOf(e.task_id) : null;
      const out = e.output && Object.keys(e.output).length ? JSON.stringify(e.output) : "";
      return el("li", null,
        el("time", { datetime: e.recorded_at }, PX.time(e.recorded_at)),
        el("span", null, el("span", { class: "what" }, e.event_type), wbs ? ` · task ${wbs}` : "",
          e.agent_id ? ` · agent ${PX.short(e.agent_id)}` : "", e.disposition !== "applied" ? ` · ${e.disposition} (${e.reason || ""})` : ""),
        out ? el("span", { class: "more", title: out }, out) : null);
    }));
  }

  function onMessage(msg) {
    if (msg.type === "snapshot") {
      version = -1;
      events.clear();
      tree.load(msg.tasks || []);
      figuresOf(Object.assign({}, msg.execution || {}, msg));
      addEvents(msg.events);
      if (current.plan_id) planLink.href = `/plans/${current.plan_id}`;
      loadPlanTitle();
    } else if (msg.type === "update") {
      // An older update may still carry events this page has not shown.
      if (msg.version <= version) { addEvents(msg.events); return; }
      if (version >= 0 && msg.version > version + 1) { live.send({ type: "snapshot" }); return; }
      for (const t of msg.tasks || []) tree.apply(t);
      if ((msg.tasks || []).length) tree.refresh();
      figuresOf(msg);
      addEvents(msg.events);
    } else if (msg.type === "heartbeat") {
      if (msg.version > version && version >= 0) { live.send({ type: "snapshot" }); return; }
      figuresOf(msg);
    }
  }

  let planTitled = false;
  async function loadPlanTitle() {
    if (planTitled || !current || !current.plan_id) return;
    planTitled = true;
    try {
      const plan = await api("GET", `/api/plans/${current.plan_id}`);
      planLink.textContent = plan.title;
      for (const p of plan.phases || []) {
        tree.phaseTitles[p.wbs] = p.title;
        const li = tree.rows.get("phase-" + p.wbs);
        if (li) li.querySelector(":scope > .row .title").textContent = p.title;
      }
      document.title = `${plan.title} · planexec`;
    } catch (e) { planTitled = false; }
  }

  (async () => {
    try {
      agents = (await api("GET", "/api/agents")).agents || [];
      agentSelect.replaceChildren(el("option", { value: "" }, "Reassign to…"),
        ...agents.map((a) => el("option", { value: a.id }, `${a.name} (${a.status})`)));
    } catch (e) { /* the list of agents is optional here */ }
  })();
  const live = PX.stream(`/api/executions/${encodeURIComponent(id)}/stream`, { onMessage });
};
