// /agents: the agents with their capabilities, status, last heartbeat and current tasks.
"use strict";

window.pageInit = (main) => {
  const { api, el, badge } = PX;
  const body = el("tbody");
  const error = el("p", { class: "error", role: "alert" });
  main.replaceChildren(el("h1", null, "Agents"), error,
    el("div", { class: "card" }, el("table", { class: "responsive" },
      el("thead", null, el("tr", null, ["Name", "Id", "Role", "Capabilities", "Status", "Last heartbeat", "Current tasks"].map((h) => el("th", { scope: "col" }, h)))),
      body)));

  async function load() {
    try {
      const [a, running] = await Promise.all([api("GET", "/api/agents"), api("GET", "/api/executions?status=RUNNING&limit=50")]);
      // Current tasks: the running leaves of running executions, by agent.
      const current = new Map();
      await Promise.all((running.executions || []).map(async (ex) => {
        const tasks = await api("GET", `/api/executions/${ex.id}/tasks`);
        for (const t of tasks) for (const n of [t, ...(t.subtasks || [])]) {
          if ((n.status === "RUNNING" || n.status === "DISPATCHED") && n.assigned_agent_id) {
            if (!current.has(n.assigned_agent_id)) current.set(n.assigned_agent_id, []);
            current.get(n.assigned_agent_id).push({ ex: ex.id, wbs: n.wbs, title: n.title });
          }
        }
      }));
      body.replaceChildren(...(a.agents || []).map((x) => el("tr", null,
        el("td", { "data-label": "Name" }, el("b", null, x.name)),
        el("td", { class: "id", "data-label": "Id" }, x.id),
        el("td", { "data-label": "Role" }, x.role),
        el("td", { "data-label": "Capabilities" }, el("div", { class: "chips" }, x.capabilities.map((c) => el("span", { class: "chip" }, c)))),
        el("td", { "data-label": "Status" }, badge(String(x.status).toUpperCase())),
        el("td", { "data-label": "Last heartbeat", title: x.last_heartbeat || "" }, PX.ago(x.last_heartbeat)),
        el("td", { "data-label": "Current tasks" }, ...(current.get(x.id) || []).slice(0, 3).map((t) =>
          el("div", null, el("a", { href: `/executions/${t.ex}` }, `${t.wbs} ${t.title}`)))))));
      error.textContent = "";
      PX.indicate("live", "Refreshed " + new Date().toLocaleTimeString());
    } catch (e) { error.textContent = `Loading the agents failed: ${e.message}`; PX.indicate("offline", "Offline"); }
  }
  load();
  setInterval(load, 5000);
};
