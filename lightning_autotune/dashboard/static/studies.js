// The studies page: one row per study, refreshed every second.
"use strict";

(() => {
  const { api, el, link, studyHref, fmt, poll, section } = AT;
  const STATES = ["COMPLETE", "PRUNED", "FAILED", "RUNNING", "WAITING"];
  const box = section("Studies", "studies");
  const table = el("table", null, { id: "studies-table" });
  const head = el("tr");
  for (const title of ["study", "directions", "trials", ...STATES, "best", "last activity"]) {
    head.append(el("th", title));
  }
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  box.append(table);

  poll(async () => {
    const studies = await api("studies");
    const rows = studies.map((s) => {
      const row = el("tr", null, { "data-name": s.name });
      const name = el("td");
      name.append(link(s.name, studyHref(s.name)));
      row.append(name, el("td", s.directions.join(", ")), el("td", s.n_trials));
      for (const state of STATES) row.append(el("td", s.counts[state], { class: "state-" + state }));
      const best = s.best ? `#${s.best.number}: ${s.best.values.map(fmt).join(", ")}` : "";
      row.append(el("td", best), el("td", s.last_activity ? new Date(s.last_activity).toLocaleString() : ""));
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
    document.body.dataset.rendered = "1";
  });
})();
