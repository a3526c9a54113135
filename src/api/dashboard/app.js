// The dashboard's entry point: the user switcher, the tabs (kept in the URL hash), the reset
// button, the server's clock, and the refresh loops: logs every second (fewer when the tab is hidden), the open
// resource view every two seconds.

import { STALE, post, setToken } from "./api.js";
import { initClock, refreshClock } from "./clock.js";
import { $, confirmClick, fmtTime, toast } from "./dom.js";
import * as dlq from "./dlq.js";
import { initLogs } from "./logs.js";
import { initPending } from "./pending.js";
import { initPublish } from "./publish.js";
import * as resources from "./resources.js";
import * as schedules from "./schedules.js";
import { store } from "./store.js";
import { initVerify } from "./verify.js";
import * as workflows from "./workflows.js";

const LOG_POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000;
const VIEW_POLL_MS = 2000;
const USER_KEY = "qstash-dev.user";

/** Tabs whose data is fetched while they are open. */
const VIEW_REFRESH = {
  dlq: dlq.refresh,
  workflows: workflows.refresh,
  schedules: schedules.refresh,
  queues: resources.refresh.queues,
  groups: resources.refresh.groups,
  flow: resources.refresh.flow,
};
const TABS = ["logs", "pending", "dlq", "workflows", "schedules", "queues", "groups", "flow", "publish", "verify"];

let active = "logs";
let viewTimer = 0;
let logTimer = 0;

function setStatus(text, ok) {
  const s = $("#status");
  s.textContent = text;
  s.classList.toggle("bad", !ok);
}

async function pollLogs() {
  clearTimeout(logTimer);
  try {
    await Promise.all([store.poll(), refreshClock()]);
    setStatus(`Live · updated ${fmtTime(Date.now()).slice(0, 8)}`, true);
  } catch (e) {
    if (e.status !== STALE) setStatus(e.status === 0 ? "Server unreachable" : e.message, false);
  }
  clearTimeout(logTimer);
  logTimer = setTimeout(pollLogs, document.hidden ? HIDDEN_POLL_MS : LOG_POLL_MS);
}

async function refreshView() {
  clearTimeout(viewTimer);
  const fn = VIEW_REFRESH[active];
  if (fn) {
    try {
      await fn();
    } catch (e) {
      if (e.status !== STALE) setStatus(e.message, false);
    }
    clearTimeout(viewTimer);
    if (!document.hidden) viewTimer = setTimeout(refreshView, VIEW_POLL_MS);
  }
}

function activate(name, refresh = true) {
  active = TABS.includes(name) ? name : "logs";
  for (const t of TABS) {
    const on = t === active;
    const tab = $(`#tab-${t}`);
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $(`#view-${t}`).hidden = !on;
  }
  if (refresh) refreshView();
}

function clearViews() {
  store.clear();
  dlq.reset();
  workflows.reset();
  schedules.reset();
  resources.reset();
}

function switchUser(users, userId) {
  const user = users.find((u) => u.userId === userId) || users[0];
  setToken(user.token);
  try {
    localStorage.setItem(USER_KEY, user.userId);
  } catch {
    // Storage may be off (private windows); the choice then lasts until reload.
  }
  $("#user").value = user.userId;
  clearViews();
  pollLogs();
  refreshView();
}

function initTabs() {
  const list = $("#tabs");
  list.addEventListener("click", (ev) => {
    const tab = ev.target.closest("[role=tab]");
    if (tab) location.hash = `#${tab.id.slice(4)}`;
  });
  list.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const i = TABS.indexOf(active) + (ev.key === "ArrowRight" ? 1 : -1);
    const next = TABS[(i + TABS.length) % TABS.length];
    location.hash = `#${next}`;
    $(`#tab-${next}`).focus();
  });
  window.addEventListener("hashchange", () => activate(location.hash.slice(1)));
}

async function main() {
  const res = await fetch("/dashboard/users.json", { cache: "no-store" });
  const { users } = await res.json();
  const select = $("#user");
  select.replaceChildren(...users.map((u, i) => {
    const o = document.createElement("option");
    o.value = u.userId;
    o.textContent = i === 0 ? `${u.userId} (default)` : u.userId;
    return o;
  }));
  select.addEventListener("change", () => switchUser(users, select.value));

  initClock($("#clock-slot"), async () => {
    await pollLogs();
    await refreshView();
  });
  initLogs();
  initPending();
  dlq.initDlq();
  workflows.initWorkflows();
  schedules.initSchedules();
  resources.initResources();
  initPublish();
  initVerify();
  initTabs();

  $("#reset-slot").replaceChildren(confirmClick("Reset user", async () => {
    await post("/dev/reset");
    clearViews();
    toast(`Reset ${select.value}: messages, logs, DLQ, schedules, queues, URL groups`);
    await pollLogs();
    await refreshView();
  }, { "data-testid": "reset", title: "Forget every message, log, DLQ entry and resource of this user (POST /dev/reset)" }));

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      pollLogs();
      refreshView();
    }
  });
  activate(location.hash.slice(1), false);
  let saved = null;
  try {
    saved = localStorage.getItem(USER_KEY);
  } catch {
    // As above.
  }
  switchUser(users, saved);
}

main().catch((e) => {
  setStatus(`Dashboard failed to start: ${e.message}`, false);
});
