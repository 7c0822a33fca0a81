// Shared helpers. Every string from the store reaches the page through textContent (never
// innerHTML), and through plotText() when it goes into a Plotly label.
"use strict";

const AT = (() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const POLL_MS = 1000;

  async function api(path) {
    const headers = token ? { "X-Autotune-Token": token } : {};
    const response = await fetch("/api/" + path, { headers, cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function link(text, href) {
    return el("a", text, { href });
  }

  function studyHref(name) {
    return "/study/" + encodeURIComponent(name);
  }

  function fmt(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      return Math.abs(value) >= 1e4 || Math.abs(value) < 1e-3 ? value.toExponential(3) : value.toPrecision(5);
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // Plotly reads a few HTML-like tags in labels; entities make every name show as typed.
  function plotText(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function showError(err) {
    const box = document.getElementById("error");
    box.hidden = !err;
    box.textContent = err ? String(err.message || err) : "";
    document.getElementById("live").classList.toggle("stale", Boolean(err));
  }

  // Calls step() now and then every POLL_MS after the previous call ended.
  function poll(step) {
    const tick = async () => {
      try {
        await step();
        showError(null);
      } catch (err) {
        showError(err);
      }
      setTimeout(tick, POLL_MS);
    };
    tick();
  }

  function crumbs(parts) {
    const box = document.getElementById("crumbs");
    box.replaceChildren();
    for (const [text, href] of parts) {
      box.append(" / ", href ? link(text, href) : el("span", text));
    }
  }

  function section(title, id) {
    const box = el("section", null, { id });
    box.append(el("h2", title));
    document.getElementById("main").append(box);
    return box;
  }

  function pathParts() {
    return location.pathname.split("/").slice(1).map(decodeURIComponent);
  }

  return { api, el, link, studyHref, fmt, plotText, poll, crumbs, section, pathParts, showError };
})();
