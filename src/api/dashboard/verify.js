// The signature explainer: paste a delivery's `Upstash-Signature`, the body as the endpoint
// received it and the URL it was received at; `POST /dev/verify` says whether the current or
// next signing key of the user verifies it, and if not which check fails and why.

import { post } from "./api.js";
import { $, h } from "./dom.js";

function result(r) {
  const box = $("#verify-result");
  const head = r.valid
    ? h("p", { class: "ok", "data-testid": "verify-verdict", text: `Valid: ${r.message}` })
    : h("p", { class: "error", "data-testid": "verify-verdict", text: `Not valid (${r.reason}): ${r.message}` });
  const rows = r.checks.map((c) => h("tr", { class: c.ok ? "" : "failed" },
    h("td", { text: c.name }), h("td", { text: c.ok ? "✓" : "✗" }),
    h("td", { class: "mono", text: c.expected ?? "" }), h("td", { class: "mono", text: c.actual ?? "" })));
  const table = h("table", { class: "grid", "data-testid": "verify-checks" },
    h("thead", {}, h("tr", {}, ["Check", "", "Expected", "In the signature"].map((t) => h("th", { text: t })))),
    h("tbody", {}, rows));
  const claims = r.claims ? h("pre", { text: JSON.stringify(r.claims, null, 2) }) : "";
  box.replaceChildren(head, table, claims);
}

export function initVerify() {
  const form = $("#verify-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const url = f.url.value.trim();
      const req = { signature: f.signature.value.trim(), body: f.body.value, ...(url ? { url } : {}) };
      result(await post("/dev/verify", { headers: { "Content-Type": "application/json" }, body: JSON.stringify(req) }));
    } catch (e) {
      $("#verify-result").replaceChildren(h("p", { class: "error", role: "alert", text: e.message }));
    } finally {
      btn.disabled = false;
    }
  });
}
