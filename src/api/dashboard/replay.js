// Replay from the logs: send a logged message again as it was, or edit its destination, method,
// headers or body first (`POST /dev/messages/{id}/replay`); the new message is then followed in
// the logs.

import { post, seg } from "./api.js";
import { b64text, button, h, headerPairs, toast } from "./dom.js";

/** `{"Name": ["v"]}` → `Name: v` lines. */
function lines(map) {
  return Object.entries(map || {}).flatMap(([k, vs]) => (Array.isArray(vs) ? vs : [vs]).map((v) => `${k}: ${v}`)).join("\n");
}

/** `Name: value` lines → `{"Name": ["v1", "v2"]}`; a line without a colon throws. */
function headerMap(text) {
  const out = {};
  for (const [name, value] of headerPairs(text)) (out[name] ||= []).push(value);
  return out;
}

async function send(id, edits, follow) {
  const r = await post(`/dev/messages/${seg(id)}/replay`, edits && {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(edits),
  });
  toast(`Replayed as ${r.messageId}`);
  follow(r.messageId);
}

/** The form that edits a replay, in place of the entry's details. */
function editForm(panel, e, follow) {
  const field = (label, control) => h("label", { class: "wide" }, label, control);
  const dest = h("input", { value: e.url || "", "data-testid": "replay-destination" });
  const method = h("select", { "data-testid": "replay-method" },
    ["POST", "GET", "PUT", "PATCH", "DELETE"].map((m) => h("option", { selected: m === e.method, text: m })));
  const headers = h("textarea", { rows: 4, spellcheck: "false", "data-testid": "replay-headers", text: lines(e.header) });
  const body = h("textarea", { rows: 8, spellcheck: "false", "data-testid": "replay-body", text: b64text(e.body) });
  const form = h("form", { class: "builder", "aria-label": "Edit and replay" },
    h("h2", { text: `Replay ${e.messageId}` }),
    field("Destination", dest), field("Method", method), field("Headers (replace every header delivered)", headers), field("Body", body),
    h("div", { class: "actions" },
      button("Send", () => send(e.messageId, {
        destination: dest.value.trim(),
        method: method.value,
        headers: headerMap(headers.value),
        body: body.value,
      }, follow), { class: "primary", "data-testid": "replay-send" })));
  form.addEventListener("submit", (ev) => ev.preventDefault());
  panel.replaceChildren(form);
}

/** The replay buttons of a log entry's detail panel. */
export function replayButtons(panel, e, follow) {
  return [
    button("Replay", () => send(e.messageId, null, follow), { "data-testid": "log-replay" }),
    button("Edit and replay…", () => editForm(panel, e, follow), { "data-testid": "log-replay-edit" }),
  ];
}
