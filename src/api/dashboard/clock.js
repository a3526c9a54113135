// The server's clock in the top bar: its time, marked when it is not real time (moved ahead
// or frozen), buttons that advance it by a minute, an hour or a day (`POST /dev/clock/advance`,
// which answers once what fell due has run), and one that lets a frozen clock run again. The
// offset from the browser's clock is kept so relative times ("in 5m") read on server time.

import { get, post } from "./api.js";
import { button, fmtTime, h, setServerOffset, toast } from "./dom.js";

/** An offset smaller than this is the two machines' clocks drifting, not a moved clock. */
const REAL_TIME_SLACK_MS = 2000;

let state = { now: Date.now(), offsetMs: 0, frozen: false };
let onMoved = () => {};
let slot;

function render() {
  const shifted = state.frozen || Math.abs(state.offsetMs) > REAL_TIME_SLACK_MS;
  const label = h("span", { class: `server-time${shifted ? " shifted" : ""}`, "data-testid": "server-time" });
  label.textContent = `Server time ${fmtTime(state.now)}${state.frozen ? " · frozen" : shifted ? " · not real time" : ""}`;
  label.title = shifted
    ? `The server's clock reads ${new Date(state.now).toISOString()}, ${Math.round(state.offsetMs / 1000)} s from real time`
    : "The server runs on real time";
  const advance = (by, text) =>
    button(text, () => move(`/dev/clock/advance?by=${by}`), {
      class: "small ghost",
      "data-testid": `clock-advance-${by}`,
      title: `Move the server's clock forward by ${by}: what falls due on the way runs at its own time`,
    });
  const items = [label, advance("1m", "+1 min"), advance("1h", "+1 h"), advance("1d", "+1 day")];
  if (state.frozen) {
    items.push(button("Resume", () => move("/dev/clock/resume"), {
      class: "small ghost",
      "data-testid": "clock-resume",
      title: "Let the clock run at real speed again from where it stands",
    }));
  }
  slot.replaceChildren(...items);
}

function take(s) {
  state = s;
  setServerOffset(s.frozen ? s.now - Date.now() : s.offsetMs);
  render();
}

async function move(path) {
  const r = await post(path);
  take(r);
  if (r.deliveries !== undefined) toast(`Clock moved to ${fmtTime(r.now)}: ${r.deliveries} deliveries were due`);
  await onMoved();
}

/** Reads the clock again (called with every refresh of the logs). */
export async function refreshClock() {
  take(await get("/dev/clock"));
}

/** Shows the clock in `target`; `moved` runs after each move, to refresh what it changed. */
export function initClock(target, moved) {
  slot = target;
  onMoved = moved;
  render();
}
