// Plotly figures built from API payloads. Charts are SVG (fast to start; WebGL contexts cost a
// second each where the GPU is emulated) except parallel coordinates, which Plotly only draws
// with WebGL. They decimate: at most MAX_POINTS markers (the best fifth, the rest evenly spread),
// MAX_LINES parallel-coordinate lines (the best half, the rest evenly spread), MAX_STOPS pruned
// marks (the latest); the curves come decimated from the server.
"use strict";

const CHARTS = (() => {
  const { plotText } = AT;
  const MAX_LINES = 1000;
  const COLORS = { COMPLETE: "#2563eb", PRUNED: "#d97706", RUNNING: "#10b981", FAILED: "#dc2626" };
  const CONFIG = { responsive: true, displaylogo: false };
  const MAX_POINTS = 1500;
  const MAX_STOPS = 500;

  function layout(title, x, y) {
    return {
      title: { text: plotText(title) }, margin: { l: 60, r: 20, t: 40, b: 45 },
      xaxis: { title: { text: plotText(x) } }, yaxis: { title: { text: plotText(y) } },
      legend: { orientation: "h" }, uirevision: "keep",
    };
  }

  function draw(id, traces, figLayout) {
    return Plotly.react(id, traces, figLayout, CONFIG);
  }

  function sign(direction) {
    return direction === "maximize" ? -1 : 1;
  }

  // `keep` of `items` (sorted by trial number): the best fifth and an even spread of the rest.
  function thin(items, keep, score) {
    if (items.length <= keep) return items;
    const ranked = [...items].sort((a, b) => score(a) - score(b));
    const chosen = new Set(ranked.slice(0, keep / 5));
    const rest = items.filter((t) => !chosen.has(t));
    const need = keep - chosen.size;
    for (let i = 0; i < need; i++) chosen.add(rest[Math.floor((i * rest.length) / need)]);
    return items.filter((t) => chosen.has(t));
  }

  function history(id, trials, directions) {
    const all = trials.filter((t) => t.state === "COMPLETE" && t.values && t.values[0] !== null);
    const s = sign(directions[0]);
    const done = thin(all, MAX_POINTS, (t) => s * t.values[0]);
    const note = done.length < all.length ? ` (${done.length} of ${all.length} trials shown)` : "";
    const bestX = [], bestY = [];
    let best = Infinity;
    for (const t of all) {
      if (s * t.values[0] < best) best = s * t.values[0];
      bestX.push(t.number);
      bestY.push(s * best);
    }
    return draw(id, [
      { type: "scatter", mode: "markers", name: "COMPLETE", x: done.map((t) => t.number),
        y: done.map((t) => t.values[0]), marker: { color: COLORS.COMPLETE, size: 5 } },
      { type: "scatter", mode: "lines", name: "best so far", x: bestX, y: bestY,
        line: { color: "#111827", shape: "hv" } },
    ], layout("Optimization history" + note, "trial", "objective"));
  }

  // The history from the summary endpoint: markers and best-so-far line already decimated.
  function historySummary(id, h) {
    const shown = h.markers.x.length;
    const note = shown < h.n_complete ? ` (${shown} of ${h.n_complete} trials shown)` : "";
    return draw(id, [
      { type: "scatter", mode: "markers", name: "COMPLETE", x: h.markers.x, y: h.markers.y,
        marker: { color: COLORS.COMPLETE, size: 5 } },
      { type: "scatter", mode: "lines", name: "best so far", x: h.best.x, y: h.best.y,
        line: { color: "#111827", shape: "hv" } },
    ], layout("Optimization history" + note, "trial", "objective"));
  }

  function curves(id, payload) {
    const traces = [];
    for (const state of ["COMPLETE", "RUNNING", "PRUNED"]) {
      const x = [], y = [], text = [];
      for (const c of payload.curves.filter((c) => c.state === state)) {
        x.push(...c.steps, null);
        y.push(...c.values, null);
        text.push(...c.steps.map(() => "trial " + c.number), "");
      }
      if (x.length) {
        traces.push({ type: "scatter", mode: "lines", name: state, x, y, text,
          line: { color: COLORS[state], width: 1 }, connectgaps: false });
      }
    }
    const stops = payload.pruned_stops.slice(-MAX_STOPS);
    traces.push({ type: "scatter", mode: "markers", name: "pruned here",
      x: stops.map((p) => p.step), y: stops.map((p) => p.value),
      text: stops.map((p) => "trial " + p.number + " pruned"),
      marker: { symbol: "x", color: COLORS.PRUNED, size: 9 } });
    const note = payload.curves.length < payload.n_with_curve
      ? ` (${payload.curves.length} of ${payload.n_with_curve})` : "";
    return draw(id, traces, layout("Intermediate values" + note, "step", "objective"));
  }

  function sample(done, s) {
    if (done.length <= MAX_LINES) return done;
    const ranked = [...done].sort((a, b) => s * a.values[0] - s * b.values[0]);
    const keep = ranked.slice(0, MAX_LINES / 2);
    const rest = ranked.slice(MAX_LINES / 2);
    const stride = rest.length / (MAX_LINES / 2);
    for (let i = 0; i < MAX_LINES / 2; i++) keep.push(rest[Math.floor(i * stride)]);
    return keep;
  }

  function parallel(id, trials, directions) {
    const done = sample(
      trials.filter((t) => t.state === "COMPLETE" && t.values && t.values[0] !== null),
      sign(directions[0]));
    const names = [...new Set(done.flatMap((t) => Object.keys(t.params)))].sort();
    const dims = names.map((name) => {
      const raw = done.map((t) => t.params[name]);
      if (raw.every((v) => typeof v === "number" || v === undefined)) {
        return { label: plotText(name), values: raw.map((v) => (v === undefined ? NaN : v)) };
      }
      const levels = [...new Set(raw.map((v) => JSON.stringify(v ?? null)))].sort();
      return { label: plotText(name), values: raw.map((v) => levels.indexOf(JSON.stringify(v ?? null))),
        tickvals: levels.map((_, i) => i), ticktext: levels.map(plotText) };
    });
    const values = done.map((t) => t.values[0]);
    dims.push({ label: "objective", values });
    return draw(id, [{ type: "parcoords", dimensions: dims,
      line: { color: values, colorscale: "Viridis", reversescale: directions[0] === "maximize",
        showscale: true } }], { ...layout(`Parallel coordinates (${done.length} trials)`, "", ""),
      margin: { l: 60, r: 60, t: 70, b: 30 } });
  }

  function importance(id, payload) {
    const rows = [...payload.importances].reverse();
    const title = payload.error ? "Parameter importance: " + payload.error
      : `Parameter importance (GP fit on the last ${payload.n_trials} complete trials)`;
    return draw(id, [{ type: "bar", orientation: "h", x: rows.map((p) => p.importance),
      y: rows.map((p) => plotText(p.name)), marker: { color: COLORS.COMPLETE } }],
    { ...layout(title, "importance", ""), margin: { l: 140, r: 20, t: 40, b: 45 } });
  }

  function pareto(id, trials, directions) {
    const all = trials.filter((t) => t.state === "COMPLETE" && t.values
      && t.values[0] !== null && t.values[1] !== null);
    const s0 = sign(directions[0]), s1 = sign(directions[1]);
    const done = thin(all, MAX_POINTS, (t) => s0 * t.values[0] + s1 * t.values[1]);
    const order = [...all].sort((a, b) => s0 * a.values[0] - s0 * b.values[0]
      || s1 * a.values[1] - s1 * b.values[1]);
    const front = [];
    let best = Infinity;
    for (const t of order) {
      if (s1 * t.values[1] < best) { front.push(t); best = s1 * t.values[1]; }
    }
    const point = (ts) => ({ x: ts.map((t) => t.values[0]), y: ts.map((t) => t.values[1]),
      text: ts.map((t) => "trial " + t.number) });
    return draw(id, [
      { type: "scatter", mode: "markers", name: "trials", ...point(done),
        marker: { color: "#9ca3af", size: 5 } },
      { type: "scatter", mode: "lines+markers", name: "Pareto front", ...point(front),
        line: { shape: "hv", color: COLORS.FAILED }, marker: { size: 8 } },
    ], layout("Pareto front (objectives 1 and 2)", "objective 1", "objective 2"));
  }

  function slice(id, trials, directions, param) {
    const s = sign(directions[0]);
    const all = trials.filter((t) => t.state === "COMPLETE" && t.values && t.values[0] !== null
      && t.params[param] !== undefined);
    const done = thin(all, MAX_POINTS, (t) => s * t.values[0]);
    return draw(id, [{ type: "scatter", mode: "markers", x: done.map((t) => t.params[param]),
      y: done.map((t) => t.values[0]), text: done.map((t) => "trial " + t.number),
      marker: { color: done.map((t) => t.number), colorscale: "Blues", size: 6, showscale: true,
        colorbar: { title: { text: "trial" } } } }],
    layout(`Slice: objective against ${param}`, param, "objective"));
  }

  function series(id, title, named) {
    const traces = Object.entries(named).map(([name, s]) => ({ type: "scatter", mode: "lines+markers",
      name: plotText(name), x: s.steps, y: s.values }));
    return draw(id, traces, layout(title, "step", "value"));
  }

  return { history, historySummary, curves, parallel, importance, pareto, slice, series };
})();
