// The logs view: every state transition, newest first, live. Filters (state, URL, message id)
// run in the page over the entries the store holds; the list is virtual, so 10,000 entries
// cost a few dozen rows of DOM.

import { $, plural, b64text, badge, button, detail, emptyDetail, fmtRel, fmtTime, h, headerLines, pretty } from "./dom.js";
import { replayButtons } from "./replay.js";
import { showTimeline } from "./timeline.js";
import { MAX_ENTRIES, store } from "./store.js";
import { VirtualList } from "./vlist.js";

const IN_PROGRESS = new Set(["ACTIVE", "RETRY", "ERROR"]);

let list;
let filter = { state: "", url: "", messageId: "" };
let live = true;

function matches(e) {
  const f = filter;
  if (f.state && (f.state === "IN_PROGRESS" ? !IN_PROGRESS.has(e.state) : e.state !== f.state)) return false;
  if (f.url) {
    const where = `${e.url || ""} ${e.topicName || ""}`.toLowerCase();
    if (!where.includes(f.url)) return false;
  }
  if (f.messageId && !String(e.messageId).toLowerCase().includes(f.messageId)) return false;
  return true;
}

const filtering = () => Boolean(filter.state || filter.url || filter.messageId);

function info(e) {
  const parts = [];
  if (e.responseStatus) parts.push(`HTTP ${e.responseStatus}`);
  if (e.error) parts.push(e.error);
  if (e.state === "RETRY" && e.nextDeliveryTime) parts.push(`next ${fmtRel(e.nextDeliveryTime)}`);
  if (e.state === "CREATED" && e.nextDeliveryTime && e.nextDeliveryTime > e.time + 1000) {
    parts.push(`due ${fmtTime(e.nextDeliveryTime)}`);
  }
  if (e.queueName) parts.push(`queue ${e.queueName}`);
  if (e.scheduleId) parts.push(`schedule ${e.scheduleId}`);
  return parts.join(" · ");
}

const COLUMNS = [
  { label: "Time", class: "c-time", cell: (e) => fmtTime(e.time) },
  { label: "State", class: "c-state", cell: (e) => badge(e.state) },
  { label: "Message ID", class: "c-id mono", cell: (e) => e.messageId },
  { label: "Destination", class: "c-url", cell: (e) => (e.topicName ? `${e.topicName} → ${e.url || ""}` : e.url || "") },
  { label: "Info", class: "c-info", cell: (e) => info(e) },
];

function refresh(added = []) {
  const all = store.entries;
  const items = filtering() ? all.filter(matches) : all;
  const shift = filtering() ? added.filter(matches).length : added.length;
  list.setItems(items, shift);
  const count = $("#log-count");
  const shown = items.length.toLocaleString();
  const total = all.length.toLocaleString();
  count.textContent = filtering() ? `${shown} of ${total} entries` : plural(all.length, "entry", "entries");
  if (store.truncated) count.textContent += ` (newest ${MAX_ENTRIES.toLocaleString()} kept)`;
  $("#tab-logs .count").textContent = all.length ? all.length.toLocaleString() : "";
}

function show(e) {
  list.select(e.localId);
  const panel = $("#log-detail");
  const msgRows = [
    ["Time", `${fmtTime(e.time)} (${new Date(e.time).toISOString()})`],
    ["State", badge(e.state)],
    ["Message ID", h("span", { class: "mono", text: e.messageId })],
    ["URL", e.url],
    ["Method", e.method],
    ["URL group", e.topicName],
    ["Endpoint", e.endpointName],
    ["Queue", e.queueName],
    ["Schedule", e.scheduleId],
    ["Labels", (e.labels || []).join(", ")],
    ["Flow control", e.flowControlKey],
    ["Max retries", e.maxRetries],
    ["Next delivery", e.nextDeliveryTime ? `${fmtTime(e.nextDeliveryTime)} (${fmtRel(e.nextDeliveryTime)})` : ""],
    ["Error", e.error],
  ];
  detail(panel, "Log entry", [
    { title: "Message", rows: msgRows },
    { title: "Request headers", pre: headerLines(e.header) },
    { title: "Request body", pre: pretty(b64text(e.body)), testid: "log-body" },
    { title: "Response", rows: [["Status", e.responseStatus]] },
    { title: "Response headers", pre: headerLines(e.responseHeaders || e.responseHeader) },
    { title: "Response body", pre: pretty(b64text(e.responseBody)) },
  ], [
    button("This message only", () => showMessage(e.messageId), { "data-testid": "log-filter-message" }),
    button("Timeline", () => showTimeline(panel, e.messageId, () => show(e)), { "data-testid": "log-timeline" }),
    ...replayButtons(panel, e, showMessage),
  ]);
}

/** Shows the whole history of one message. */
export function showMessage(id) {
  const form = $("#log-filters");
  form.elements.messageId.value = id;
  form.elements.state.value = "";
  form.elements.url.value = "";
  readFilters();
  location.hash = "#logs";
}

function readFilters() {
  const form = $("#log-filters");
  filter = {
    state: form.elements.state.value,
    url: form.elements.url.value.trim().toLowerCase(),
    messageId: form.elements.messageId.value.trim().toLowerCase(),
  };
  list.root.scrollTop = 0;
  refresh();
}

export function initLogs() {
  const form = $("#log-filters");
  list = new VirtualList($("#log-list"), {
    rowHeight: 32,
    columns: COLUMNS,
    key: (e) => e.localId,
    onSelect: show,
    testid: "log-row",
    empty: "No log entries yet. Publish a message (Publish tab) and it shows up here.",
  });
  form.addEventListener("submit", (ev) => ev.preventDefault());
  form.addEventListener("input", (ev) => {
    if (ev.target.name === "live") {
      live = ev.target.checked;
      if (live) refresh();
      return;
    }
    readFilters();
  });
  $("#log-clear").addEventListener("click", () => {
    form.reset();
    live = true;
    readFilters();
  });
  store.subscribe((added) => {
    if (!store.entries.length) emptyDetail($("#log-detail"));
    if (live || !store.entries.length) refresh(added);
  });
  emptyDetail($("#log-detail"));
  refresh();
}
