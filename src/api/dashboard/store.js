// The log store of the current user: every entry of `GET /v2/events` the page knows, newest
// first, capped at MAX_ENTRIES. The first load pages back through the cursor; after that each
// poll asks only for entries at or after the newest known time (`fromDate`) and skips the ones
// it already has at that boundary millisecond.

import { get, getPages } from "./api.js";

export const MAX_ENTRIES = 10000;
const PAGE = 1000;
/** Every how many polls the store checks that the server was not reset behind its back. */
const CHECK_EVERY = 5;

/** States whose message is still pending when they are its latest entry. */
export const PENDING_STATES = new Set(["CREATED", "ACTIVE", "RETRY", "ERROR"]);

const keyOf = (e) => `${e.messageId}|${e.state}`;
let localIds = 0;

export class LogStore {
  constructor() {
    this.listeners = new Set();
    this.clear();
  }

  /** Forgets everything (user switch, reset). */
  clear() {
    this.entries = [];
    this.newest = 0;
    this.loaded = false;
    this.truncated = false;
    this.inflight = null;
    this.epoch = (this.epoch || 0) + 1;
    this.emit([]);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(added) {
    for (const fn of this.listeners) fn(added);
  }

  /** Entries already held at the newest millisecond, by message and state. */
  boundary() {
    const m = new Map();
    for (const e of this.entries) {
      if (e.time !== this.newest) break;
      m.set(keyOf(e), (m.get(keyOf(e)) || 0) + 1);
    }
    return m;
  }

  async fetchPages(fromDate) {
    const query = { count: PAGE, fromDate };
    const { items, more } = await getPages("/v2/events", "events", { query, limit: MAX_ENTRIES });
    return { events: items, more };
  }

  /** Fetches what is new since the last poll; returns the entries added. One at a time. */
  poll() {
    if (!this.inflight) {
      const p = this.pollOnce().finally(() => {
        if (this.inflight === p) this.inflight = null;
      });
      this.inflight = p;
    }
    return this.inflight;
  }

  /**
   * True when the newest entry held is gone from the server. The server drops its oldest
   * entries, never its newest, so that means a reset from elsewhere (`POST /dev/reset`).
   */
  async wasReset() {
    const newest = this.entries[0];
    const r = await get("/v2/events", { messageId: newest.messageId, fromDate: newest.time, toDate: newest.time });
    return !(r.events || []).length;
  }

  async pollOnce() {
    const epoch = this.epoch;
    this.polls = (this.polls || 0) + 1;
    if (this.polls % CHECK_EVERY === 0 && this.entries.length && (await this.wasReset())) {
      // The next poll loads afresh.
      if (epoch === this.epoch) this.clear();
      return [];
    }
    const { events, more } = await this.fetchPages(this.loaded ? this.newest : undefined);
    if (epoch !== this.epoch) return [];
    const seen = this.boundary();
    const added = [];
    for (const e of events) {
      if (e.time < this.newest) continue;
      const k = keyOf(e);
      if (e.time === this.newest && seen.get(k) > 0) {
        seen.set(k, seen.get(k) - 1);
        continue;
      }
      e.localId = String(++localIds);
      added.push(e);
    }
    if (!this.loaded) this.truncated = more;
    this.loaded = true;
    if (!added.length) return added;
    // The server answers newest first; keep that order across polls.
    added.sort((a, b) => b.time - a.time);
    this.entries = added.concat(this.entries);
    if (this.entries.length > MAX_ENTRIES) {
      this.entries.length = MAX_ENTRIES;
      this.truncated = true;
    }
    this.newest = this.entries[0].time;
    this.emit(added);
    return added;
  }

  /** The latest entry of every message whose latest state is still pending. */
  pending() {
    const latest = new Map();
    for (const e of this.entries) {
      if (!latest.has(e.messageId)) latest.set(e.messageId, e);
    }
    return [...latest.values()].filter((e) => PENDING_STATES.has(e.state));
  }
}

export const store = new LogStore();
