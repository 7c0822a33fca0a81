// One trial: params, outcome, timing, every reported metric over steps, user attributes.
"use strict";

(() => {
  const { api, el, studyHref, fmt, poll, crumbs, section, pathParts } = AT;
  const [, name, , number] = pathParts();
  crumbs([[name, studyHref(name)], ["trial " + number, null]]);
  const title = el("h1", `Trial ${number}`);
  document.getElementById("main").append(title);
  const info = section("Outcome and timing", "outcome");
  const infoTable = el("table", null, { id: "outcome-table" });
  info.append(infoTable);
  const paramsBox = section("Parameters", "params");
  const paramsTable = el("table", null, { id: "params-table" });
  paramsBox.append(paramsTable);
  const chartsBox = section("Reported over steps", "reported");
  const grid = el("div", null, { class: "grid" });
  grid.append(el("div", null, { id: "objective", class: "chart" }),
    el("div", null, { id: "metrics", class: "chart" }));
  chartsBox.append(grid);
  const placeBox = section("Where its files are", "locations");
  const placeTable = el("table", null, { id: "locations-table" });
  placeBox.append(placeTable);
  const schedBox = section("Schedules applied in the run", "schedules");
  schedBox.append(el("div", null, { id: "schedules-chart", class: "chart" }));
  const transferBox = section("Transfer from pretrained weights", "transfer");
  const transferPre = el("pre", null, { id: "transfer-summary" });
  transferBox.append(transferPre);
  placeBox.hidden = schedBox.hidden = transferBox.hidden = true;
  const attrsBox = section("User attributes", "attrs");
  const attrsPre = el("pre", null, { id: "attrs" });
  attrsBox.append(attrsPre);
  let seen = "";

  function rows(target, pairs) {
    target.replaceChildren(...pairs.map(([k, v]) => {
      const tr = el("tr");
      tr.append(el("th", k), el("td", fmt(v)));
      return tr;
    }));
  }

  poll(async () => {
    const t = await api(`studies/${encodeURIComponent(name)}/trials/${number}`);
    const key = JSON.stringify(t);
    if (key === seen) return;
    seen = key;
    title.textContent = `Trial ${t.number}: ${t.state}`;
    rows(infoTable, [["state", t.state], ["values", t.values], ["reason", t.reason],
      ["last step", t.last_step], ["started", t.started_at], ["finished", t.finished_at],
      ["duration (s)", t.duration], ["last heartbeat", t.heartbeat_at], ["worker", t.worker],
      ["retry of", t.retry_of]]);
    rows(paramsTable, Object.entries(t.params));
    attrsPre.textContent = JSON.stringify(t.user_attrs, null, 2);
    const places = Object.entries(t.locations);
    placeBox.hidden = !places.length;
    rows(placeTable, places);
    const schedules = Object.keys(t.schedules).length > 0;
    schedBox.hidden = !schedules;
    if (schedules) await CHARTS.series("schedules-chart", "Applied values", t.schedules);
    transferBox.hidden = t.transfer === null || t.transfer === undefined;
    transferPre.textContent = transferBox.hidden ? "" : JSON.stringify(t.transfer, null, 2);
    await CHARTS.series("objective", "Objective", { objective: t.objective });
    await CHARTS.series("metrics", "Metrics", t.metrics);
    document.body.dataset.rendered = "1";
  });
})();
