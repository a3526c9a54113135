// Queues (lag, pause, resume), URL groups with their endpoints, and flow-control keys.

import { get, post, seg } from "./api.js";
import { $, plural, button, fmtTime, h, toast } from "./dom.js";
import { TableView } from "./table.js";

let queues;
let groups;
let flows;

const pausedBadge = (paused, testid) =>
  h("span", { class: `badge ${paused ? "st-paused" : "st-delivered"}`, "data-testid": testid, text: paused ? "PAUSED" : "ACTIVE" });

async function queueAction(q, action) {
  await post(`/v2/queues/${seg(q.name)}/${action}`);
  toast(`${action === "pause" ? "Paused" : "Resumed"} queue ${q.name}`);
  await refreshQueues();
}

async function flowAction(f, action) {
  await post(`/v2/flowControl/${seg(f.flowControlKey)}/${action}`);
  toast(`${action === "pause" ? "Paused" : "Resumed"} ${f.flowControlKey}`);
  await refreshFlows();
}

const QUEUE_COLUMNS = [
  { label: "Queue", class: "mono", cell: (q) => q.name },
  { label: "Lag", class: "num", cell: (q) => h("span", { "data-testid": "queue-lag", text: String(q.lag) }) },
  { label: "Parallelism", class: "num", cell: (q) => String(q.parallelism) },
  { label: "State", cell: (q) => pausedBadge(q.paused, "queue-state") },
  { label: "Created", class: "c-time", cell: (q) => fmtTime(q.createdAt) },
  { label: "Updated", class: "c-time", cell: (q) => fmtTime(q.updatedAt) },
  {
    label: "",
    class: "c-actions",
    cell: (q) => q.paused
      ? button("Resume", () => queueAction(q, "resume"), { class: "small", "data-testid": "queue-resume" })
      : button("Pause", () => queueAction(q, "pause"), { class: "small", "data-testid": "queue-pause" }),
  },
];

const GROUP_COLUMNS = [
  { label: "URL group", class: "mono", cell: (g) => g.name },
  {
    label: "Endpoints",
    class: "wrap",
    cell: (g) => h("ul", { class: "endpoints" }, (g.endpoints || []).map((e) =>
      h("li", {}, e.name ? h("strong", { text: `${e.name}: ` }) : null, e.url))),
  },
  { label: "Created", class: "c-time", cell: (g) => fmtTime(g.createdAt) },
  { label: "Updated", class: "c-time", cell: (g) => fmtTime(g.updatedAt) },
];

const FLOW_COLUMNS = [
  { label: "Key", class: "mono", cell: (f) => f.flowControlKey },
  { label: "Waiting", class: "num", cell: (f) => String(f.waitListSize ?? 0) },
  {
    label: "Parallelism",
    class: "num",
    cell: (f) => `${f.parallelismCount ?? 0} / ${f.parallelismMax || "∞"}${f.isPinnedParallelism ? " (pinned)" : ""}`,
  },
  {
    label: "Rate",
    class: "num",
    cell: (f) => (f.rateMax
      ? `${f.rateCount ?? 0} / ${f.rateMax} per ${f.ratePeriod || 1}s${f.isPinnedRate ? " (pinned)" : ""}`
      : "unlimited"),
  },
  { label: "State", cell: (f) => pausedBadge(f.isPaused, "flow-state") },
  {
    label: "",
    class: "c-actions",
    cell: (f) => f.isPaused
      ? button("Resume", () => flowAction(f, "resume"), { class: "small" })
      : button("Pause", () => flowAction(f, "pause"), { class: "small" }),
  },
];

async function refreshQueues() {
  const list = (await get("/v2/queues")) || [];
  list.sort((a, b) => a.name.localeCompare(b.name));
  queues.set(list);
  const lag = list.reduce((n, q) => n + (q.lag || 0), 0);
  $("#queue-count").textContent = `${plural(list.length, "queue")}, ${plural(lag, "message")} waiting`;
}

async function refreshGroups() {
  const list = (await get("/v2/topics")) || [];
  list.sort((a, b) => a.name.localeCompare(b.name));
  groups.set(list);
  $("#group-count").textContent = plural(list.length, "URL group");
}

async function refreshFlows() {
  const list = (await get("/v2/flowControl")) || [];
  list.sort((a, b) => a.flowControlKey.localeCompare(b.flowControlKey));
  flows.set(list);
  $("#flow-count").textContent = plural(list.length, "key");
}

export const refresh = { queues: refreshQueues, groups: refreshGroups, flow: refreshFlows };

export function reset() {
  for (const t of [queues, groups, flows]) t.set([]);
}

export function initResources() {
  queues = new TableView($("#queue-table"), {
    columns: QUEUE_COLUMNS,
    key: (q) => q.name,
    testid: "queue-row",
    empty: "No queues. POST /v2/queues or enqueue to one (POST /v2/enqueue/{queue}/{url}) to create it.",
  });
  groups = new TableView($("#group-table"), {
    columns: GROUP_COLUMNS,
    key: (g) => g.name,
    testid: "group-row",
    empty: "No URL groups. Add endpoints with POST /v2/topics/{name}/endpoints.",
  });
  flows = new TableView($("#flow-table"), {
    columns: FLOW_COLUMNS,
    key: (f) => f.flowControlKey,
    testid: "flow-row",
    empty: "No flow-control keys. They appear once a message uses Upstash-Flow-Control-Key.",
  });
  reset();
}
