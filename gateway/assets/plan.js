// /plans/{id}: a plan's decomposition with each leaf's capability, confidence and evidence;
// approve it, correct a leaf's capability, start an execution.
"use strict";

window.pageInit = (main) => {
  const { api, el, badge } = PX;
  const id = decodeURIComponent(location.pathname.split("/")[2] || "");
  const error = el("p", { class: "error", role: "alert" });

  async function load() {
    let plan, agents;
    try {
      [plan, agents] = await Promise.all([api("GET", `/api/plans/${id}`), api("GET", "/api/agents")]);
    } catch (e) { main.replaceChildren(el("h1", null, "Plan"), el("p", { class: "error", role: "alert" }, e.message)); return; }
    const status = String(plan.status).toUpperCase();
    const review = status === "NEEDS_REVIEW";
    const agentSelect = el("select", { "aria-label": "Agent for the new execution" },
      (agents.agents || []).map((a) => el("option", { value: a.id }, `${a.name} (${a.status})`)));
    const rows = [];
    for (const phase of plan.phases || []) {
      rows.push(el("tr", null, el("td", { colspan: "5" }, el("b", null, `${phase.wbs} ${phase.title}`))));
      for (const t of phase.tasks || []) rows.push(taskRow(t, review));
    }
    main.replaceChildren(
      el("h1", null, plan.title),
      el("div", { class: "card" },
        el("div", { class: "meta" }, el("span", null, "Status ", badge(status)),
          el("span", null, "Confidence ", el("b", null, (plan.confidence * 100).toFixed(0) + "%")),
          el("span", null, "Phases ", el("b", null, String(plan.counts.phases))),
          el("span", null, "Tasks ", el("b", null, String(plan.counts.tasks))),
          el("span", null, "Imported ", el("b", null, PX.dateTime(plan.created_at)))),
        plan.review_reasons && plan.review_reasons.length ? el("ul", null, plan.review_reasons.map((r) => el("li", null, r))) : null,
        el("div", { class: "controls" },
          review ? el("button", { class: "primary", onclick: approve }, "Approve plan") : null,
          agentSelect, el("button", { onclick: () => start(agentSelect.value) }, "Start execution")),
        error),
      el("div", { class: "card" }, el("table", { class: "responsive" },
        el("thead", null, el("tr", null, ["Task", "Capability", "Confidence", "Evidence", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", null, rows))));
  }

  function taskRow(t, review) {
    const cap = t.capability || {};
    const input = el("input", { type: "text", value: cap.capability || "", "aria-label": `Capability of ${t.wbs}`, size: "18" });
    const leaf = !(t.subtasks || []).length;
    return el("tr", null,
      el("td", { "data-label": "Task" }, `${t.wbs} ${t.title}`, (t.subtasks || []).length ? el("div", { class: "muted" }, `${t.subtasks.length} subtasks`) : null),
      el("td", { "data-label": "Capability" }, review && leaf ? input : (cap.capability || "—")),
      el("td", { "data-label": "Confidence" }, t.confidence === null || t.confidence === undefined ? "—" : (t.confidence * 100).toFixed(0) + "%"),
      el("td", { "data-label": "Evidence", class: "muted" }, cap.evidence || ""),
      el("td", null, review && leaf ? el("button", { class: "small", onclick: () => setCapability(t, input.value) }, "Save") : null));
  }

  async function approve() {
    try { await api("POST", `/api/plans/${id}/approve`, {}); load(); } catch (e) { error.textContent = `Approve failed: ${e.message}`; }
  }
  async function setCapability(t, capability) {
    try { await api("PUT", `/api/plans/${id}/tasks/${t.id}`, { capability }); load(); } catch (e) { error.textContent = `Saving ${t.wbs} failed: ${e.message}`; }
  }
  async function start(agentId) {
    if (!agentId) { error.textContent = "Register an agent first."; return; }
    try {
      const ex = await api("POST", "/api/executions", { plan_id: id, agent_id: agentId });
      location.href = `/executions/${ex.id}`;
    } catch (e) { error.textContent = `Start failed: ${e.message}`; }
  }
  load();
};
