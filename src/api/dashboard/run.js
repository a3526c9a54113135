// One workflow run in the Workflows view's side panel (`GET /dev/workflows/runs/{id}`): where
// it is and why in plain words, its facts, cancel / resume / restart, and its steps in order as
// a timeline (name, type, state, when its result was recorded and delivered, retries, output,
// sleeps, waits and calls), each with the request the server sent and the answer it got (the
// step message's timeline, loaded when opened). Auto refresh redraws only on a change and keeps
// the opened steps open.

import { del, get, post, seg } from "./api.js";
import { b64text, badge, button, confirmClick, fmtRel, fmtTime, h, pretty, serverNow, toast } from "./dom.js";
import { attemptList, fetchTimeline, ms } from "./timeline.js";

/** A heading for each status code of the diagnosis. */
const TITLES = {
  finished: "Finished",
  canceled: "Canceled",
  nonWorkflowDestination: "Not a workflow endpoint",
  signatureRejected: "The endpoint rejected the signature",
  protocolMismatch: "Workflow protocol mismatch",
  authFailed: "The route returned before its first step",
  nonRetryableError: "A non-retryable error",
  unreachable: "The endpoint is unreachable",
  stepFailed: "A step failed",
  waitingForEvent: "Waiting for an event",
  waitingForInvokedRun: "Waiting for an invoked run",
  sleeping: "Sleeping",
  retrying: "Retrying a delivery",
  delivering: "Running a step",
  due: "Next delivery due",
  notWorkflowResponse: "Stopped: no workflow answer from the endpoint",
  oldProtocol: "Stopped: an older workflow protocol",
  noNextStep: "Stopped: no next step",
  unknown: "Nothing pending",
};

let current = null;

function whyBox(status) {
  const when = status.until ? h("p", { class: "muted", text: `until ${fmtTime(status.until)} (${fmtRel(status.until)})` }) : "";
  return h("div", { class: `why${status.stopped ? " stopped" : ""}`, "data-testid": "run-why", "data-code": status.code },
    h("strong", { text: TITLES[status.code] || status.code }),
    h("p", { "data-testid": "run-why-message", text: status.message }),
    when);
}

function facts(run) {
  const end = run.workflowRunCompletedAt;
  const rows = [
    ["State", badge(run.workflowState)],
    ["Run ID", h("span", { class: "mono", text: run.workflowRunId })],
    ["URL", run.workflowUrl],
    ["Label", run.label],
    ["Started", fmtTime(run.workflowRunCreatedAt)],
    ["Ended", end ? `${fmtTime(end)} · took ${ms(end - run.workflowRunCreatedAt)}` : ""],
    ["Invoked by", run.invoker ? `${run.invoker.workflowRunId} (${run.invoker.workflowUrl})` : ""],
    ["Flow control", run.flowControlKey],
    ["DLQ ID", run.dlqId],
    ["Failure function", run.failureFunction ? `${run.failureFunction.state} → ${run.failureFunction.url}` : ""],
    ["Returned", run.workflowRunResponse ? h("pre", { text: pretty(run.workflowRunResponse) }) : ""],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  return h("dl", {}, rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]));
}

function actions(run, inDlq, onRerun) {
  const out = [];
  const id = run.workflowRunId;
  if (run.workflowState === "RUN_STARTED") {
    out.push(confirmClick("Cancel run", async () => {
      await del(`/v2/workflows/runs/${seg(id)}`, { query: { cancel: "true" } });
      toast(`Canceled ${id}`);
      await refresh();
    }, { "data-testid": "run-cancel" }));
  }
  if (run.workflowState === "RUN_FAILED" && inDlq) {
    const rerun = (how, label) => button(label, async () => {
      const r = await post(`/v2/workflows/dlq/${how}/${seg(run.dlqId)}`);
      toast(`${how === "resume" ? "Resumed" : "Restarted"} as ${r.workflowRunId}`);
      await onRerun(r.workflowRunId, r.workflowCreatedAt);
    }, { "data-testid": `run-${how}`, title: `POST /v2/workflows/dlq/${how}/${run.dlqId}` });
    out.push(rerun("resume", "Resume from the failed step"), rerun("restart", "Restart from the beginning"));
  }
  return out;
}

/** The first line of an answer's message (the SDK's JSON error) or body. */
function firstLine(body) {
  let text = body || "";
  try {
    text = JSON.parse(text).message || text;
  } catch {
    // Not JSON: the body as it is.
  }
  return String(text).split("\n").find((l) => l.trim()) || "";
}

/** What a step did, in short lines: sleeps, waits, calls, invokes, errors, the next attempt. */
function stepNotes(s, m, kind) {
  const notes = [];
  if (s.sleepFor !== undefined) notes.push(`sleeps ${s.sleepFor} s`);
  if (s.sleepUntil !== undefined) notes.push(`sleeps until ${fmtTime(Number(s.sleepUntil) * 1000)}`);
  if (s.waitEventId !== undefined) {
    const timeout = s.waitTimeoutDuration ? ` (timeout ${s.waitTimeoutDuration})` : "";
    notes.push(`waited for event "${s.waitEventId}"${timeout}${s.waitTimeout ? ": timed out" : ""}`);
  }
  if (s.callUrl !== undefined) notes.push(`called ${s.callMethod || "POST"} ${s.callUrl} → HTTP ${s.callResponseStatus}`);
  if (s.invokedWorkflowRunId) notes.push(`invoked ${s.invokedWorkflowRunId} at ${s.invokedWorkflowUrl}`);
  const last = (s.errors || []).at(-1);
  if (last) notes.push(`last error: ${last.status ? `HTTP ${last.status}: ${firstLine(last.body)}` : last.error}`);
  if (s.nextDeliveryTime) notes.push(`next attempt ${fmtTime(s.nextDeliveryTime)} (${fmtRel(s.nextDeliveryTime)})`);
  if (kind === "next" && m.dueAt && m.state !== "ACTIVE") notes.push(`due ${fmtTime(m.dueAt)} (${fmtRel(m.dueAt)})`);
  const ended = { DELIVERED: "delivered", FAILED: "failed", CANCELED: "cancelled" }[m.state];
  if (ended && m.endedAt && s.createdAt) notes.push(`${ended} ${fmtTime(m.endedAt)}, ${ms(m.endedAt - s.createdAt)} after it was recorded`);
  return notes;
}

/** A step's request and answer: its message's timeline, fetched when opened. */
function exchange(messageId) {
  const box = h("details", { class: "exchange", "data-message-id": messageId },
    h("summary", { "data-testid": "run-step-exchange", text: "Request sent and answer received" }));
  const load = async () => {
    try {
      const tl = await fetchTimeline(messageId);
      box.querySelector(".timeline")?.remove();
      box.append(attemptList(tl));
    } catch (e) {
      box.append(h("p", { class: "error", text: e.message }));
    }
  };
  box.addEventListener("toggle", () => {
    if (box.open) {
      current?.open.add(messageId);
      load();
    } else {
      current?.open.delete(messageId);
    }
  });
  // Opening fires "toggle", which loads it.
  if (current?.open.has(messageId)) box.open = true;
  return box;
}

/** A sleep step whose delivery is not due yet (the logs count it a success once recorded). */
const sleeping = (s, m, kind) =>
  kind !== "next" && (s.sleepFor !== undefined || s.sleepUntil !== undefined) &&
  m.state !== "ACTIVE" && m.dueAt > serverNow();

function stepItem(s, messages, kind, names = {}) {
  const m = messages[s.messageId] || {};
  const delivers = names[s.messageId] ? `delivery of '${names[s.messageId]}'` : "next delivery";
  const name = s.stepName ?? (kind === "next" ? delivers : "(unnamed)");
  const head = h("div", { class: "step-head" },
    h("strong", { "data-testid": "run-step-name", text: String(name) }),
    s.stepType ? h("span", { class: "muted", text: ` ${s.stepType}` }) : "", " ",
    badge(sleeping(s, m, kind) ? "SLEEPING" : s.state),
    s.retries ? h("span", { class: "muted", text: ` · ${s.retries} retries` }) : "",
    s.createdAt ? h("span", { class: "muted", text: ` · ${fmtTime(s.createdAt)}` }) : "");
  // A wait's output is the event's data in base64, as the SDK gets it.
  const shown = s.stepType === "Wait" && typeof s.out === "string" ? b64text(s.out) : s.out;
  const out = s.out !== undefined && s.out !== "" ? h("pre", { "data-testid": "run-step-out", text: pretty(shown) }) : "";
  return h("li", { class: `step ${kind}`, "data-testid": "run-step", "data-step-id": s.stepId ?? "" },
    head,
    ...stepNotes(s, m, kind).map((n) => h("div", { class: "muted note", text: n })),
    out,
    s.messageId ? exchange(s.messageId) : "");
}

/** A wait the run is in: its event, since when and until when. */
function waiterItem(w) {
  const since = w.since ? ` since ${fmtTime(w.since)}` : "";
  return h("li", { class: "step next", "data-testid": "run-step" },
    h("div", { class: "step-head" },
      h("strong", { "data-testid": "run-step-name", text: String(w.stepName ?? "wait") }),
      h("span", { class: "muted", text: " Wait" }), " ", badge("WAITING")),
    h("div", { class: "muted note", "data-testid": "run-wait",
      text: `waits for event "${w.eventId}"${since}; times out ${fmtTime(w.deadline)} (${fmtRel(w.deadline)})` }));
}

function stepList(view) {
  const { run, messages } = view;
  // A pending delivery is named by the step whose result it carries.
  const names = {};
  for (const g of run.steps) {
    for (const s of g.steps) if (g.type !== "next" && s.stepName) names[s.messageId] = s.stepName;
  }
  const items = run.steps.map((g) => {
    if (g.type === "parallel") {
      return h("li", { class: "group parallel" }, h("span", { class: "muted", text: "in parallel" }),
        h("ol", {}, g.steps.map((s) => stepItem(s, messages, "parallel"))));
    }
    return g.steps.map((s) => stepItem(s, messages, g.type, names));
  });
  return h("ol", { class: "steps", "data-testid": "run-steps" }, items.flat(), view.waiters.map(waiterItem));
}

function render(panel, view, onRerun) {
  const { run } = view;
  panel.replaceChildren(
    h("h2", { text: `Run ${run.workflowRunId}` }),
    h("div", { class: "actions" }, actions(run, view.inDlq, onRerun)),
    whyBox(view.status),
    facts(run),
    h("h3", { text: "Steps" }),
    stepList(view));
}

/**
 * Shows run `{id, createdAt}` in `panel`; `onRerun(runId, createdAt)` follows a resumed or
 * restarted run.
 */
export async function showRun(panel, { id, createdAt }, onRerun) {
  current = { panel, id, createdAt, onRerun, sig: "", open: new Set() };
  await refresh();
}

/** Fetches the open run again and redraws it if it changed. */
export async function refresh() {
  const c = current;
  if (!c) return;
  const view = await get(`/dev/workflows/runs/${seg(c.id)}`, { createdAt: c.createdAt });
  const sig = JSON.stringify(view);
  if (c !== current || sig === c.sig) return;
  c.sig = sig;
  render(c.panel, view, c.onRerun);
}

/** Forgets the open run (user switch, reset). */
export function close() {
  current = null;
}
