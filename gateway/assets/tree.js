// The task tree of an execution: phases, tasks and subtasks nested by WBS number, each with a
// status icon and word; a click shows attempts, output and error, and Retry / Skip for a leaf.
"use strict";

const TaskTree = (() => {
  const { el, badge, icon } = PX;

  // nodes: the tasks of GET /api/executions/{id}/tasks, flattened with their subtasks.
  // Task statuses travel in lower case (`running`); the page shows them as words in capitals.
  const norm = (s) => String(s || "").toUpperCase();

  function flatten(tasks) {
    const out = [];
    for (const t of tasks) {
      out.push(Object.assign({}, t, { status: norm(t.status), is_leaf: t.is_leaf && !(t.subtasks || []).length }));
      for (const s of t.subtasks || []) out.push(Object.assign({ is_leaf: true }, s, { status: norm(s.status) }));
    }
    return out;
  }

  class Tree {
    constructor(container, actions) {
      this.phaseTitles = {};
      this.container = container;
      this.actions = actions; // { resolve(taskId, action) }
      this.nodes = new Map();
      this.rows = new Map();
      this.open = new Set();
    }

    load(tasks) {
      this.nodes.clear();
      this.rows.clear();
      this.phases = [];
      const nodes = flatten(tasks);
      for (const n of nodes) this.nodes.set(n.id, n);
      const byWbs = new Map(nodes.map((n) => [n.wbs, n]));
      // Phases are not tasks of the execution: a group per WBS prefix stands for each.
      for (const n of [...nodes]) {
        const top = n.wbs.split(".")[0];
        if (n.wbs.includes(".") && !byWbs.has(top)) {
          const phase = { id: "phase-" + top, wbs: top, title: this.phaseTitles[top] || `Phase ${top}`, status: "", phase: true };
          byWbs.set(top, phase);
          nodes.splice(nodes.indexOf(n), 0, phase);
        }
      }
      const children = new Map();
      const roots = [];
      for (const n of nodes) {
        const parent = n.wbs.includes(".") ? byWbs.get(n.wbs.slice(0, n.wbs.lastIndexOf("."))) : null;
        if (parent) {
          if (!children.has(parent.id)) children.set(parent.id, []);
          children.get(parent.id).push(n);
        } else roots.push(n);
      }
      const list = (items, depth) => el("ul", { role: depth === 0 ? "tree" : "group", "aria-label": depth === 0 ? "Tasks" : null },
        items.map((n) => this.item(n, children.get(n.id) || [], depth, list)));
      this.container.replaceChildren(list(roots, 0));
      this.phaseCounts();
    }

    item(node, kids, depth, list) {
      const expanded = kids.length ? (depth === 0 || this.open.has(node.id)) : null;
      const li = el("li", { class: "node", role: "treeitem", "aria-expanded": expanded === null ? null : String(expanded) });
      const toggle = kids.length
        ? el("button", { class: "toggle", "aria-label": `Expand or collapse ${node.wbs}`, text: expanded ? "▾" : "▸" })
        : el("span", { class: "toggle", "aria-hidden": "true" });
      const row = node.phase
        ? el("div", { class: "row phase" }, toggle, el("span", { class: "icon", "aria-hidden": "true" }, "▪"),
          el("span", { class: "wbs" }, node.wbs), el("b", { class: "title" }, node.title), el("span", { class: "st muted" }))
        : el("div", { class: "row" }, toggle,
          el("span", { class: `icon s-${node.status}`, "aria-hidden": "true" }, icon(node.status)),
          el("span", { class: "wbs" }, node.wbs),
          el("button", { class: "title", title: node.title, "aria-label": `Details of ${node.wbs} ${node.title}`, onclick: () => this.details(li, node.id) }, node.title),
          el("span", { class: "st" }, badge(node.status)));
      li.append(row);
      let sub = null;
      if (kids.length) {
        sub = list(kids, depth + 1);
        sub.hidden = !expanded;
        li.append(sub);
        toggle.addEventListener("click", () => {
          const now = sub.hidden;
          sub.hidden = !now;
          li.setAttribute("aria-expanded", String(now));
          toggle.textContent = now ? "▾" : "▸";
          if (now) this.open.add(node.id); else this.open.delete(node.id);
        });
      }
      this.rows.set(node.id, li);
      if (node.phase) this.phases.push({ node, kids, li });
      return li;
    }

    // A phase's row says how many of its tasks are done (a word, not a colour).
    phaseCounts() {
      for (const { kids, li } of this.phases) {
        const leaves = kids.flatMap((k) => [k, ...[...this.nodes.values()].filter((n) => n.wbs.startsWith(k.wbs + "."))]).filter((n) => n.is_leaf);
        const done = leaves.filter((n) => n.status === "COMPLETED" || n.status === "SKIPPED").length;
        const failed = leaves.filter((n) => n.status === "FAILED").length;
        li.querySelector(":scope > .row .st").textContent = `${done}/${leaves.length} done` + (failed ? `, ${failed} failed` : "");
      }
    }

    details(li, id) {
      const existing = li.querySelector(":scope > .detail");
      if (existing) { existing.remove(); return; }
      const n = this.nodes.get(id);
      const box = el("div", { class: "detail" },
        el("div", { class: "meta" },
          el("span", null, "Attempt ", el("b", null, String(n.attempt)), ` of ${n.max_attempts}`),
          el("span", null, "Failures ", el("b", null, String(n.failures))),
          n.capability ? el("span", null, "Capability ", el("b", null, n.capability)) : null,
          n.assigned_agent_id ? el("span", null, "Agent ", el("b", null, PX.short(n.assigned_agent_id))) : null,
          el("span", null, "Started ", el("b", null, PX.time(n.started_at))),
          el("span", null, "Finished ", el("b", null, PX.time(n.finished_at)))),
        n.error ? el("div", null, el("b", null, "Error"), el("pre", null, n.error)) : null,
        n.result ? el("div", null, el("b", null, "Output"), el("pre", null, JSON.stringify(n.result, null, 2))) : null,
        n.is_leaf ? this.controls(id) : null,
        el("p", { class: "error", role: "alert" }));
      li.querySelector(":scope > .row").after(box);
    }

    // Retry, Skip, and Complete with an output typed by the operator (JSON, or text kept as a note).
    controls(id) {
      const label = `output-${id}`;
      const output = el("textarea", { id: label, rows: "2", placeholder: '{"summary": "done by hand"}' });
      const complete = () => {
        const text = output.value.trim();
        let value = {};
        if (text) { try { value = JSON.parse(text); } catch { value = { note: text }; } }
        this.actions.resolve(id, "complete", value);
      };
      return el("div", { class: "controls" },
        el("button", { class: "small", onclick: () => this.actions.resolve(id, "retry") }, "Retry task"),
        el("button", { class: "small", onclick: () => this.actions.resolve(id, "skip") }, "Skip task"),
        el("label", { for: label, class: "sr-only" }, "Output for Complete"),
        output,
        el("button", { class: "small", onclick: complete }, "Complete task"));
    }

    // A TaskUpdate of the stream: { id, status, attempt, progress }.
    apply(update) {
      const n = this.nodes.get(update.id);
      if (!n) return false;
      Object.assign(n, { status: norm(update.status), attempt: update.attempt, progress: update.progress });
      const li = this.rows.get(update.id);
      if (li) {
        const row = li.querySelector(":scope > .row");
        const ic = row.querySelector(".icon");
        ic.className = `icon s-${n.status}`;
        ic.textContent = icon(n.status);
        row.querySelector(".st").replaceChildren(badge(n.status));
      }
      return true;
    }

    // The figures of a batch of updates changed: refresh the phases' counts once.
    refresh() { this.phaseCounts(); }

    wbsOf(id) { const n = this.nodes.get(id); return n ? n.wbs : null; }
    counts() {
      const c = {};
      for (const n of this.nodes.values()) if (n.is_leaf) c[n.status] = (c[n.status] || 0) + 1;
      return c;
    }
  }
  return { Tree };
})();
