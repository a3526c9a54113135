// Schedules: list, pause or resume, delete, and trigger now (`POST /dev/schedules/{id}/trigger`,
// which leaves the next firing where it was).

import { del, get, post, seg } from "./api.js";
import { $, plural, button, confirmClick, detail, emptyDetail, fmtRel, fmtTime, h, headerLines, pretty, toast } from "./dom.js";
import { TableView } from "./table.js";

let table;
let schedules = [];
let selectedId = null;
let shown = "";

async function act(s, action) {
  const id = seg(s.scheduleId);
  if (action === "pause" || action === "resume") {
    await post(`/v2/schedules/${id}/${action}`);
    toast(`${action === "pause" ? "Paused" : "Resumed"} ${s.scheduleId}`);
  } else if (action === "trigger") {
    const r = await post(`/dev/schedules/${id}/trigger`);
    toast(`Triggered ${s.scheduleId}: ${(r.messageIds || []).join(", ")}`);
  } else if (action === "delete") {
    await del(`/v2/schedules/${id}`);
    toast(`Deleted ${s.scheduleId}`);
  }
  await refresh();
}

/** Pause or resume and trigger, in the row and the side panel; delete only in the panel. */
function actions(s, where = "") {
  return [
    s.isPaused
      ? button("Resume", () => act(s, "resume"), { class: "small", "data-testid": `schedule${where}-resume` })
      : button("Pause", () => act(s, "pause"), { class: "small", "data-testid": `schedule${where}-pause` }),
    button("Trigger now", () => act(s, "trigger"), { class: "small", "data-testid": `schedule${where}-trigger` }),
  ];
}

const COLUMNS = [
  { label: "Schedule ID", class: "c-id mono", cell: (s) => s.scheduleId },
  { label: "Cron", class: "mono", cell: (s) => s.cron },
  { label: "Destination", class: "c-url", cell: (s) => s.destination },
  {
    label: "State",
    cell: (s) => h("span", {
      class: `badge ${s.isPaused ? "st-paused" : "st-delivered"}`,
      "data-testid": "schedule-state",
      text: s.isPaused ? "PAUSED" : "ACTIVE",
    }),
  },
  { label: "Next run", class: "c-time", cell: (s) => fmtTime(s.nextScheduleTime) },
  { label: "", class: "c-actions", cell: (s) => actions(s) },
];

function show(s) {
  selectedId = s.scheduleId;
  shown = JSON.stringify(s);
  table.select(s.scheduleId);
  const body = s.body !== undefined ? s.body : s.bodyBase64 ? `(base64) ${s.bodyBase64}` : "";
  const states = Object.entries(s.lastScheduleStates || {}).map(([id, st]) => `${id}: ${st}`).join("\n");
  detail($("#schedule-detail"), "Schedule", [
    {
      title: "Settings",
      rows: [
        ["Schedule ID", h("span", { class: "mono", text: s.scheduleId })],
        ["Cron", h("span", { class: "mono", text: s.cron })],
        ["Destination", s.destination],
        ["Method", s.method],
        ["Paused", s.isPaused ? "yes" : "no"],
        ["Queue", s.queueName],
        ["Retries", s.retries],
        ["Delay", s.delay ? `${s.delay}s` : ""],
        ["Timeout", s.timeout ? `${s.timeout}s` : ""],
        ["Callback", s.callback],
        ["Failure callback", s.failureCallback],
        ["Created", fmtTime(s.createdAt)],
        ["Next run", s.nextScheduleTime ? `${fmtTime(s.nextScheduleTime)} (${fmtRel(s.nextScheduleTime)})` : ""],
        ["Last run", fmtTime(s.lastScheduleTime)],
        ["Flow control", s.flowControlKey],
      ],
    },
    { title: "Last run's messages", pre: states },
    { title: "Headers", pre: headerLines(s.header) },
    { title: "Body", pre: pretty(body) },
  ], [
    ...actions(s, "-detail"),
    confirmClick("Delete", () => act(s, "delete"), { class: "small danger", "data-testid": "schedule-delete" }),
  ]);
}

export async function refresh() {
  const list = await get("/v2/schedules");
  schedules = Array.isArray(list) ? list : [];
  schedules.sort((a, b) => a.createdAt - b.createdAt);
  table.set(schedules);
  $("#schedule-count").textContent = plural(schedules.length, "schedule");
  const current = schedules.find((s) => s.scheduleId === selectedId);
  if (selectedId && !current) {
    selectedId = null;
    emptyDetail($("#schedule-detail"));
  } else if (current && JSON.stringify(current) !== shown) {
    show(current);
  }
}

export function reset() {
  selectedId = null;
  table.set([]);
  emptyDetail($("#schedule-detail"));
}

export function initSchedules() {
  table = new TableView($("#schedule-table"), {
    columns: COLUMNS,
    key: (s) => s.scheduleId,
    onSelect: show,
    testid: "schedule-row",
    empty: "No schedules. Create one with POST /v2/schedules/{destination} and an Upstash-Cron header.",
  });
  table.set([]);
  emptyDetail($("#schedule-detail"));
}
