// The request builder: publishes one message with `POST /v2/publish/{destination}`. Header
// lines go to the destination (as `Upstash-Forward-*`) unless they are `Upstash-*` settings or
// `Content-Type`, which are sent as they are.

import { api } from "./api.js";
import { $, button, h, headerPairs, toast } from "./dom.js";
import { showMessage } from "./logs.js";

/** `Name: value` lines → request headers. Throws on a line without a colon. */
export function parseHeaders(text) {
  const out = {};
  for (const [name, value] of headerPairs(text)) {
    const lower = name.toLowerCase();
    const key = lower.startsWith("upstash-") || lower === "content-type" ? name : `Upstash-Forward-${name}`;
    out[key] = out[key] ? `${out[key]}, ${value}` : value;
  }
  return out;
}

function result(r) {
  const box = $("#publish-result");
  const list = Array.isArray(r) ? r : [r];
  box.replaceChildren(
    h("h3", { text: list.length > 1 ? `Published ${list.length} messages` : "Published" }),
    h("ul", { class: "published" }, list.map((m) => h("li", {},
      h("span", { class: "mono", "data-testid": "publish-message-id", text: m.messageId }),
      m.url ? h("div", { class: "muted", text: `→ ${m.url}` }) : "",
      m.deduplicated ? h("div", { class: "muted", text: "deduplicated: an earlier message had the same id" }) : "",
      button("Follow in logs", () => showMessage(m.messageId), { class: "small" })))),
  );
}

async function submit(form) {
  const f = form.elements;
  const dest = f.destination.value.trim();
  if (!dest) throw new Error("a destination is needed: a URL (http://…) or a URL group name");
  const headers = parseHeaders(f.headers.value);
  headers["Upstash-Method"] = f.method.value;
  if (f.delay.value.trim()) headers["Upstash-Delay"] = f.delay.value.trim();
  if (f.retries.value.trim()) headers["Upstash-Retries"] = f.retries.value.trim();
  const method = f.method.value;
  const body = method === "GET" ? undefined : f.body.value;
  const r = await api("POST", `/v2/publish/${dest}`, { headers, body });
  result(r);
  toast(Array.isArray(r) ? `Published ${r.length} messages` : `Published ${r.messageId}`);
}

export function initPublish() {
  const form = $("#publish-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    const box = $("#publish-result");
    try {
      await submit(form);
    } catch (e) {
      box.replaceChildren(h("p", { class: "error", role: "alert", "data-testid": "publish-error", text: e.message }));
    } finally {
      btn.disabled = false;
    }
  });
}
