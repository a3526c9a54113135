// The dead-letter queue: what failed, the destination's last answer (status, headers, body),
// and retry or delete per entry.

import { del, getPages, post, seg } from "./api.js";
import { $, plural, badge, button, confirmClick, detail, emptyDetail, fmtTime, h, headerLines, pretty, toast } from "./dom.js";
import { showMessage } from "./logs.js";
import { VirtualList } from "./vlist.js";

const LIMIT = 1000;

let list;
let entries = [];
let selectedId = null;
let signature = "";
/** Bumped by every refresh and reset, so pages fetched for a previous user or call are dropped. */
let epoch = 0;

function status(m) {
  return m.responseStatus ? `HTTP ${m.responseStatus}` : "no response";
}

async function retry(m) {
  const r = await post(`/v2/dlq/retry/${seg(m.dlqId)}`);
  toast(`Retried as ${r.messageId}`);
  if (selectedId === m.dlqId) showRetried(r.messageId);
  await refresh();
}

async function remove(m) {
  await del(`/v2/dlq/${seg(m.dlqId)}`);
  toast(`Deleted ${m.dlqId}`);
  if (selectedId === m.dlqId) {
    selectedId = null;
    emptyDetail($("#dlq-detail"));
  }
  await refresh();
}

function showRetried(messageId) {
  selectedId = null;
  detail($("#dlq-detail"), "Retried", [
    { title: "New message", rows: [["Message ID", h("span", { class: "mono", "data-testid": "dlq-retried-id", text: messageId })]] },
  ], [button("Follow it in the logs", () => showMessage(messageId))]);
}

const COLUMNS = [
  { label: "DLQ ID", class: "c-dlq mono", cell: (m) => m.dlqId },
  { label: "Response", class: "c-state", cell: (m) => h("span", { class: "badge st-failed", text: status(m) }) },
  { label: "Destination", class: "c-url", cell: (m) => (m.topicName ? `${m.topicName} → ${m.url}` : m.url) },
  { label: "Created", class: "c-time", cell: (m) => fmtTime(m.createdAt) },
  {
    label: "",
    class: "c-actions",
    cell: (m) => [
      button("Retry", () => retry(m), { class: "small", "data-testid": "dlq-retry" }),
      confirmClick("Delete", () => remove(m), { class: "small danger", "data-testid": "dlq-delete" }),
    ],
  },
];

function show(m) {
  selectedId = m.dlqId;
  list.select(m.dlqId);
  const body = m.body !== undefined ? m.body : m.bodyBase64 ? `(base64) ${m.bodyBase64}` : "";
  const respBody = m.responseBody !== undefined ? m.responseBody : m.responseBodyBase64 ? `(base64) ${m.responseBodyBase64}` : "";
  detail($("#dlq-detail"), "Dead-lettered message", [
    {
      title: "Failed response",
      rows: [
        ["Status", h("span", { "data-testid": "dlq-response-status", text: m.responseStatus ? String(m.responseStatus) : "none: a connection error or timeout (Log history has the error)" })],
      ],
    },
    { title: "Response headers", pre: headerLines(m.responseHeader) },
    { title: "Response body", pre: pretty(respBody), testid: "dlq-response-body" },
    {
      title: "Message",
      rows: [
        ["DLQ ID", h("span", { class: "mono", text: m.dlqId })],
        ["Message ID", h("span", { class: "mono", text: m.messageId })],
        ["State", badge("FAILED")],
        ["URL", m.url],
        ["Method", m.method],
        ["URL group", m.topicName],
        ["Queue", m.queueName],
        ["Schedule", m.scheduleId],
        ["Created", fmtTime(m.createdAt)],
        ["Max retries", m.maxRetries],
        ["Labels", (m.labels || []).join(", ")],
      ],
    },
    { title: "Request headers", pre: headerLines(m.header) },
    { title: "Request body", pre: pretty(body) },
  ], [
    button("Retry", () => retry(m), { "data-testid": "dlq-detail-retry" }),
    confirmClick("Delete", () => remove(m), { "data-testid": "dlq-detail-delete" }),
    button("Log history", () => showMessage(m.messageId)),
  ]);
}

export async function refresh() {
  const mine = ++epoch;
  const wanted = () => mine === epoch;
  const { items: out, more } = await getPages("/v2/dlq", "messages", { query: { count: 100 }, limit: LIMIT, wanted });
  if (!wanted()) return;
  // Rebuild rows only on a change, so an armed "Sure?" button survives the auto refresh.
  const sig = out.map((m) => m.dlqId).join(",");
  if (sig !== signature) list.setItems(out);
  signature = sig;
  entries = out;
  const shown = more ? ` (first ${LIMIT} shown)` : "";
  $("#dlq-count").textContent = `${plural(entries.length, "entry", "entries")}${shown}`;
  $("#tab-dlq .count").textContent = entries.length ? String(entries.length) : "";
  if (selectedId && !entries.some((m) => m.dlqId === selectedId)) {
    selectedId = null;
    emptyDetail($("#dlq-detail"), "That entry is gone.");
  }
}

export function reset() {
  epoch += 1;
  selectedId = null;
  entries = [];
  signature = "";
  list.setItems([]);
  emptyDetail($("#dlq-detail"));
}

export function initDlq() {
  list = new VirtualList($("#dlq-list"), {
    rowHeight: 36,
    columns: COLUMNS,
    key: (m) => m.dlqId,
    onSelect: show,
    testid: "dlq-row",
    empty: "The dead-letter queue is empty.",
  });
  emptyDetail($("#dlq-detail"));
}
