// The Workflows view: workflow runs newest first (`GET /v2/workflows/logs`) with their state,
// URL, label, start and duration, filtered by state (by the server) and by URL and run id (in
// the page, "contains"); the selected run opens in the side panel (`run.js`).

import { STALE, getPages } from "./api.js";
import { $, badge, emptyDetail, fmtTime, plural, serverNow, toast } from "./dom.js";
import * as run from "./run.js";
import { TableView } from "./table.js";
import { ms } from "./timeline.js";

const LIMIT = 300;
const PAGE = 100;

let table;
/** The selected run: `{id, createdAt}` (a run id may be reused once its run ended). */
let selected = null;
/** Bumped by every refresh and reset, so an answer that arrives late is dropped. */
let epoch = 0;

const keyOf = (r) => `${r.workflowRunId}@${r.workflowRunCreatedAt}`;

function duration(r) {
  const end = r.workflowRunCompletedAt || serverNow();
  return ms(Math.max(0, end - r.workflowRunCreatedAt));
}

const COLUMNS = [
  { label: "State", class: "c-state", cell: (r) => badge(r.workflowState) },
  { label: "Run ID", class: "c-id mono", cell: (r) => r.workflowRunId },
  { label: "Workflow URL", class: "c-url", cell: (r) => r.workflowUrl },
  { label: "Label", cell: (r) => r.label || "" },
  { label: "Started", class: "c-time", cell: (r) => fmtTime(r.workflowRunCreatedAt) },
  { label: "Duration", class: "num", cell: (r) => r.duration },
];

function filters() {
  const f = $("#run-filters").elements;
  return {
    state: f.state.value,
    url: f.url.value.trim().toLowerCase(),
    runId: f.runId.value.trim().toLowerCase(),
  };
}

async function select(r) {
  selected = { id: r.workflowRunId, createdAt: r.workflowRunCreatedAt };
  table.select(keyOf(r));
  try {
    await run.showRun($("#run-detail"), selected, follow);
  } catch (e) {
    if (e.status !== STALE) toast(e.message, "error");
  }
}

/** Shows a run made by resume or restart, whatever the filters hide. */
async function follow(id, createdAt) {
  $("#run-filters").reset();
  await refresh();
  await select({ workflowRunId: id, workflowRunCreatedAt: createdAt });
}

/** Refreshes from an event handler: a failure is shown, a superseded answer dropped. */
function refreshQuietly() {
  refresh().catch((e) => {
    if (e.status !== STALE) toast(e.message, "error");
  });
}

export async function refresh() {
  const mine = ++epoch;
  const f = filters();
  const query = { count: PAGE, state: f.state };
  const wanted = () => mine === epoch;
  const { items: runs, more } = await getPages("/v2/workflows/logs", "runs", { query, limit: LIMIT, wanted });
  if (!wanted()) return;
  const shown = runs.filter((r) =>
    (!f.url || r.workflowUrl.toLowerCase().includes(f.url)) &&
    (!f.runId || r.workflowRunId.toLowerCase().includes(f.runId)));
  // The duration of a running run grows, so its row is redrawn each time.
  table.set(shown.map((r) => ({ ...r, duration: duration(r) })));
  table.select(selected && `${selected.id}@${selected.createdAt}`);
  const total = more ? `first ${LIMIT}` : String(runs.length);
  $("#run-count").textContent = shown.length === runs.length && !more
    ? plural(runs.length, "run")
    : `${shown.length} of ${total} runs`;
  if (selected) await refreshRun();
}

/** The open run again; gone (a reset elsewhere) it is closed. */
async function refreshRun() {
  try {
    await run.refresh();
  } catch (e) {
    if (e.status !== 404) throw e;
    selected = null;
    run.close();
    emptyDetail($("#run-detail"), "That run is gone.");
  }
}

export function reset() {
  epoch += 1;
  selected = null;
  run.close();
  table.set([]);
  emptyDetail($("#run-detail"), "Select a run to see its steps and why it is where it is.");
}

export function initWorkflows() {
  table = new TableView($("#run-table"), {
    columns: COLUMNS,
    key: keyOf,
    onSelect: select,
    testid: "run-row",
    empty: "No workflow runs yet. Trigger a workflow served with serve() from @upstash/workflow.",
  });
  const form = $("#run-filters");
  form.addEventListener("submit", (ev) => ev.preventDefault());
  form.addEventListener("input", refreshQuietly);
  $("#run-clear").addEventListener("click", () => {
    form.reset();
    refreshQuietly();
  });
  reset();
}
