// Pending messages: derived from the log store (a message whose latest entry is CREATED,
// ACTIVE, RETRY or ERROR), with the stored message from `GET /v2/messages/{id}` on selection,
// "deliver now" through `POST /dev/messages/{id}/deliver` and cancel through
// `DELETE /v2/messages/{id}`.

import { del, get, post, seg } from "./api.js";
import { $, badge, button, detail, emptyDetail, fmtRel, fmtTime, h, headerLines, pretty, toast } from "./dom.js";
import { showMessage } from "./logs.js";
import { store } from "./store.js";
import { VirtualList } from "./vlist.js";

let list;
let selectedId = null;

async function cancel(id) {
  await del(`/v2/messages/${seg(id)}`);
  toast(`Cancel requested for ${id}`);
  if (selectedId === id) emptyDetail($("#pending-detail"), "Cancelled.");
}

async function deliverNow(id) {
  await post(`/dev/messages/${seg(id)}/deliver`);
  toast(`Delivering ${id} now`);
}

const COLUMNS = [
  { label: "Message ID", class: "c-id mono", cell: (e) => e.messageId },
  { label: "State", class: "c-state", cell: (e) => badge(e.state) },
  { label: "Destination", class: "c-url", cell: (e) => (e.topicName ? `${e.topicName} → ${e.url || ""}` : e.url || "") },
  { label: "Since", class: "c-time", cell: (e) => fmtTime(e.time) },
  { label: "Next attempt", class: "c-time", cell: (e) => (e.nextDeliveryTime ? fmtRel(e.nextDeliveryTime) : "") },
  {
    label: "",
    class: "c-actions",
    cell: (e) => [
      button("Deliver now", () => deliverNow(e.messageId), { class: "small", "data-testid": "pending-deliver", title: "Start its next attempt now (POST /dev/messages/{id}/deliver)" }),
      button("Cancel", () => cancel(e.messageId), { class: "small", "data-testid": "pending-cancel" }),
    ],
  },
];

async function show(e) {
  selectedId = e.messageId;
  list.select(e.messageId);
  const panel = $("#pending-detail");
  panel.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
  let m;
  try {
    m = await get(`/v2/messages/${seg(e.messageId)}`);
  } catch (err) {
    if (selectedId !== e.messageId) return;
    const gone = err.status === 404 ? "The message is no longer stored (delivered, failed or cancelled)." : err.message;
    emptyDetail(panel, gone);
    return;
  }
  if (selectedId !== e.messageId) return;
  const body = m.body !== undefined ? m.body : m.bodyBase64 ? `(base64) ${m.bodyBase64}` : "";
  detail(panel, "Pending message", [
    {
      title: "Message",
      rows: [
        ["Message ID", h("span", { class: "mono", text: m.messageId })],
        ["State", badge(e.state)],
        ["URL", m.url],
        ["Method", m.method],
        ["URL group", m.topicName],
        ["Endpoint", m.endpointName],
        ["Queue", m.queueName],
        ["Schedule", m.scheduleId],
        ["Created", fmtTime(m.createdAt)],
        ["Not before", m.notBefore ? `${fmtTime(m.notBefore)} (${fmtRel(m.notBefore)})` : ""],
        ["Max retries", m.maxRetries],
        ["Retry delay", m.retryDelayExpression],
        ["Callback", m.callback],
        ["Failure callback", m.failureCallback],
        ["Labels", (m.labels || []).join(", ")],
        ["Flow control", m.flowControlKey],
      ],
    },
    { title: "Headers", pre: headerLines(m.header) },
    { title: "Body", pre: pretty(body) },
  ], [
    button("Deliver now", () => deliverNow(m.messageId), { "data-testid": "pending-detail-deliver" }),
    button("Cancel message", () => cancel(m.messageId), { class: "danger", "data-testid": "pending-detail-cancel" }),
    button("Log history", () => showMessage(m.messageId)),
  ]);
}

function refresh() {
  const items = store.pending();
  list.setItems(items);
  $("#pending-count").textContent = `${items.length.toLocaleString()} pending`;
  $("#tab-pending .count").textContent = items.length ? items.length.toLocaleString() : "";
}

export function initPending() {
  list = new VirtualList($("#pending-list"), {
    rowHeight: 36,
    columns: COLUMNS,
    key: (e) => e.messageId,
    onSelect: show,
    testid: "pending-row",
    empty: "Nothing pending: every message was delivered, dead-lettered or cancelled.",
  });
  emptyDetail($("#pending-detail"));
  store.subscribe(() => {
    if (!store.entries.length) {
      selectedId = null;
      emptyDetail($("#pending-detail"));
    }
    refresh();
  });
  refresh();
}
