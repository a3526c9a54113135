// A message's timeline in the logs' side panel: every attempt with the gap before it, the
// request sent (headers with the signature, body, the signature's decoded claims) and the
// answer (status, headers, body, latency), and the callbacks it caused
// (`GET /dev/messages/{id}/timeline`).

import { get, seg } from "./api.js";
import { b64text, badge, button, fmtTime, h, headerLines, pretty } from "./dom.js";

export function ms(n) {
  if (n === null || n === undefined) return "";
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(n < 10000 ? 2 : 0)} s`;
}

function section(title, text, testid) {
  return text ? [h("h3", { text: title }), h("pre", { "data-testid": testid, text })] : [];
}

function attempt(a, n) {
  const head = h("div", { class: "attempt-head" },
    h("strong", { text: `Attempt ${n + 1}` }), " ", badge(a.outcome || "ACTIVE"),
    h("span", { class: "muted", text: ` ${fmtTime(a.startedAt)}` }),
    a.gapMs !== null && a.gapMs !== undefined ? h("span", { class: "muted", text: ` · +${ms(a.gapMs)} after the previous step` }) : "",
    a.response ? h("span", { class: "muted", text: ` · answered in ${ms(a.response.latencyMs)}` }) : "");
  const req = a.request;
  return h("li", { class: "attempt", "data-testid": "timeline-attempt" }, head,
    ...section("Request", `${req.method} ${req.url}\n${headerLines(req.headers)}`, "timeline-request"),
    ...section("Request body", pretty(b64text(req.body))),
    ...section("Signature claims", a.claims ? JSON.stringify(a.claims, null, 2) : ""),
    ...section("Response", a.response ? `HTTP ${a.response.status}\n${headerLines(a.response.headers)}` : "", "timeline-response"),
    ...section("Response body", a.response ? pretty(b64text(a.response.body)) : ""),
    a.error ? h("p", { class: "error", text: a.error }) : "",
    a.nextDeliveryTime ? h("p", { class: "muted", text: `next attempt due ${fmtTime(a.nextDeliveryTime)}` }) : "");
}

/** The timeline of message `id` as the server gives it. */
export const fetchTimeline = (id) => get(`/dev/messages/${seg(id)}/timeline`);

/** Every attempt of a fetched timeline, as a list. */
export function attemptList(tl) {
  return h("ol", { class: "timeline", "data-testid": "timeline" }, tl.attempts.map(attempt));
}

/** Replaces `panel`'s content with the timeline of message `id`; `back` restores the entry. */
export async function showTimeline(panel, id, back) {
  const tl = await fetchTimeline(id);
  const callbacks = tl.callbacks.length
    ? [h("h3", { text: "Callbacks it caused" }), h("ul", {}, tl.callbacks.map((c) =>
      h("li", {}, badge(c.state), ` ${c.kind} ${c.messageId} → ${c.url}`)))]
    : [];
  panel.replaceChildren(
    h("h2", { text: `Timeline of ${tl.messageId}` }),
    h("div", { class: "actions" }, button("Back", back)),
    h("p", { class: "muted", text: `${tl.method} ${tl.url} · created ${fmtTime(tl.createdAt)} · now ${tl.state}` }),
    attemptList(tl),
    ...callbacks);
}
