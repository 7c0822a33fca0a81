// One study: charts and a sortable, filterable, paginated trial table, merged from incremental
// polls (`since` cursor: only trials changed since the last poll come back).
"use strict";

(() => {
  const { api, el, link, studyHref, fmt, poll, crumbs, section, pathParts } = AT;
  const name = pathParts()[1];
  const PAGE = 50;
  const trials = new Map();
  let cursor = "", study = null, sortKey = "number", sortDir = 1, page = 0, importanceAt = 0;

  crumbs([[name, null]]);
  const title = el("h1", name);
  const counts = el("p", null, { class: "counts", id: "counts" });
  document.getElementById("main").append(title, counts);
  const charts = section("Charts", "charts");
  const grid = el("div", null, { class: "grid" });
  const sliceSel = el("select", null, { id: "slice-param" });
  const sliceControls = el("div", null, { class: "controls" });
  sliceControls.append(el("label", "slice by parameter:", { for: "slice-param" }), sliceSel);
  charts.append(sliceControls);
  for (const id of ["history", "curves", "parallel", "importance", "slice", "pareto"]) {
    grid.append(el("div", null, { id, class: "chart" }));
  }
  charts.append(grid);
  document.getElementById("pareto").hidden = true;
  const tableBox = section("Trials", "trials");
  const filter = el("input", null, { id: "filter", placeholder: "filter: text in any column" });
  const stateSel = el("select", null, { id: "state-filter" });
  for (const s of ["", "COMPLETE", "PRUNED", "FAILED", "RUNNING", "WAITING"]) {
    stateSel.append(el("option", s || "any state", { value: s }));
  }
  const prev = el("button", "‹ prev", { id: "prev" });
  const next = el("button", "next ›", { id: "next" });
  const pageInfo = el("span", null, { id: "page-info" });
  const controls = el("div", null, { class: "controls" });
  controls.append(filter, stateSel, prev, pageInfo, next);
  const table = el("table", null, { id: "trials-table" });
  table.append(el("thead"), el("tbody"));
  tableBox.append(controls, table);
  const spaceBox = section("Search space", "space");
  const spaceTable = el("table", null, { id: "space-table" });
  const constraintList = el("ul", null, { id: "space-constraints" });
  const ruleList = el("ul", null, { id: "space-rules" });
  spaceBox.append(spaceTable, el("h3", "Constraints"), constraintList, el("h3", "Rules"), ruleList);
  let spaceShown = "";

  function renderSpace(view) {
    const key = JSON.stringify(view);
    if (key === spaceShown) return;
    spaceShown = key;
    spaceTable.replaceChildren(...view.params.map((p) => {
      const tr = el("tr");
      tr.append(el("th", p.name), el("td", JSON.stringify(p.spec)));
      return tr;
    }));
    const items = (list, none) => (list.length ? list : [none]).map((t) => el("li", t));
    constraintList.replaceChildren(...items(view.constraints, "none"));
    ruleList.replaceChildren(...items(view.rules, "none"));
  }

  filter.addEventListener("input", () => { page = 0; renderTable(); });
  stateSel.addEventListener("change", () => { page = 0; renderTable(); });
  prev.addEventListener("click", () => { page = Math.max(0, page - 1); renderTable(); });
  next.addEventListener("click", () => { page += 1; renderTable(); });

  function columns() {
    const params = [...new Set([...trials.values()].flatMap((t) => Object.keys(t.params)))].sort();
    const objectives = study.directions.map((d, i) => [`value:${i}`, `value ${i + 1} (${d})`]);
    return [["number", "#"], ["state", "state"], ...objectives, ["last_step", "last step"],
      ["duration", "duration (s)"], ...params.map((p) => [`param:${p}`, p]), ["reason", "reason"]];
  }

  function cell(t, key) {
    if (key.startsWith("value:")) return t.values ? t.values[Number(key.slice(6))] : null;
    if (key.startsWith("param:")) return t.params[key.slice(6)];
    return t[key];
  }

  function compare(a, b) {
    const x = cell(a, sortKey), y = cell(b, sortKey);
    if (x === y) return a.number - b.number;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sortDir;
  }

  function renderTable() {
    const cols = columns();
    const head = el("tr");
    for (const [key, label] of cols) {
      const th = el("th", label, { "data-key": key });
      if (key === sortKey) th.className = sortDir > 0 ? "asc" : "desc";
      th.addEventListener("click", () => {
        sortDir = key === sortKey ? -sortDir : 1;
        sortKey = key;
        renderTable();
      });
      head.append(th);
    }
    table.tHead.replaceChildren(head);
    const needle = filter.value.toLowerCase();
    const state = stateSel.value;
    const rows = [...trials.values()].filter((t) => (!state || t.state === state)
      && (!needle || JSON.stringify(t).toLowerCase().includes(needle))).sort(compare);
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    page = Math.min(page, pages - 1);
    renderRows(cols, rows.slice(page * PAGE, (page + 1) * PAGE), rows.length, pages);
  }

  function renderRows(cols, shown, total, pages) {
    pageInfo.textContent = `page ${page + 1} of ${pages} (${total} trials)`;
    const body = shown.map((t) => {
      const tr = el("tr", null, { "data-number": String(t.number), "data-state": t.state });
      for (const [key] of cols) {
        const td = el("td", key === "number" ? null : fmt(cell(t, key)));
        if (key === "number") td.append(link(t.number, `${studyHref(name)}/trial/${t.number}`));
        if (key === "state") td.className = "state-" + t.state;
        if (key === "reason") td.className = "reason";
        tr.append(td);
      }
      return tr;
    });
    table.tBodies[0].replaceChildren(...body);
  }

  // The history and the curves come first; the costlier charts (parallel coordinates compile
  // WebGL shaders, importance fits a GP on the server) follow without holding them up.
  async function renderCharts(curves, painted) {
    const all = [...trials.values()].sort((a, b) => a.number - b.number);
    if (painted) return all;  // the summary has just drawn these, from the same revision
    await Promise.all([
      CHARTS.history("history", all, study.directions),
      curves.then((c) => CHARTS.curves("curves", c)),
    ]);
    return all;
  }

  async function renderSlice(all) {
    const names = [...new Set(all.flatMap((t) => Object.keys(t.params)))].sort();
    const shown = [...sliceSel.options].map((o) => o.value);
    if (names.join("\n") !== shown.join("\n")) {
      const chosen = sliceSel.value;
      sliceSel.replaceChildren(...names.map((n) => el("option", n, { value: n })));
      if (names.includes(chosen)) sliceSel.value = chosen;
    }
    if (sliceSel.value) await CHARTS.slice("slice", all, study.directions, sliceSel.value);
  }

  sliceSel.addEventListener("change", () => {
    renderSlice([...trials.values()].sort((a, b) => a.number - b.number)).catch(AT.showError);
  });

  async function renderSecondary(all) {
    const dirs = study.directions;
    await renderSlice(all);
    await CHARTS.parallel("parallel", all, dirs);
    if (dirs.length > 1) await CHARTS.pareto("pareto", all, dirs);
    document.getElementById("pareto").hidden = dirs.length < 2;
    const complete = all.filter((t) => t.state === "COMPLETE").length;
    if (complete >= 3 && complete >= importanceAt * 1.1 + 1) {
      importanceAt = complete;  // refit only after 10% more trials: it is the costly chart
      api(`studies/${encodeURIComponent(name)}/importance`)
        .then((p) => CHARTS.importance("importance", p)).catch(AT.showError);
    }
  }

  // The first paint comes from the summary endpoint (a few kilobytes, decimated on the server);
  // the full trial list, which sorting, filtering and the other charts need, follows.
  async function paintSummary() {
    const s = await api(`studies/${encodeURIComponent(name)}/summary`);
    study = s.study;
    counts.replaceChildren(...Object.entries(s.counts).map(([st, n]) => el("span", `${st}: ${n}`,
      { class: "state-" + st })));
    for (const t of s.table) trials.set(t.number, t);
    const head = el("tr");
    const cols = columns();
    for (const [key, label] of cols) head.append(el("th", label, { "data-key": key }));
    table.tHead.replaceChildren(head);
    renderRows(cols, s.table, s.n_trials, Math.max(1, Math.ceil(s.n_trials / PAGE)));
    trials.clear();
    await Promise.all([
      s.history ? CHARTS.historySummary("history", s.history) : null,
      CHARTS.curves("curves", s.curves),
    ]);
    document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
    return s;
  }

  poll(async () => {
    const first = !cursor;
    const painted = first ? await paintSummary() : null;
    const curvesPath = `studies/${encodeURIComponent(name)}/curves`;
    const early = painted ? Promise.resolve(painted.curves) : null;
    const reply = await api(`studies/${encodeURIComponent(name)}?since=${encodeURIComponent(cursor)}`);
    if (reply.full) trials.clear();
    study = reply.study;
    for (const t of reply.trials) trials.set(t.number, t);
    cursor = reply.cursor;
    if (!first && !reply.trials.length) return;
    renderSpace(study.space_view);
    const byState = {};
    for (const t of trials.values()) byState[t.state] = (byState[t.state] || 0) + 1;
    counts.replaceChildren(...Object.entries(byState).map(([s, n]) => el("span", `${s}: ${n}`,
      { class: "state-" + s })));
    renderTable();
    const all = await renderCharts(early || api(curvesPath), painted && painted.cursor === reply.cursor);
    await renderSecondary(all);
    if (first) document.body.dataset.allRenderMs = String(Math.round(performance.now()));
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
  });
})();
