// Small DOM and formatting helpers shared by every view. No framework: `h` builds elements,
// `detail` fills a side panel, `confirmClick` asks for a second click before destructive work.

/** Builds an element. `props`: class, text, title, dataset-like `data-*`, `aria-*`, on<event>. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el && !k.includes("-")) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** "1 entry", "3 entries": `n` with its noun. */
export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** `HH:MM:SS.mmm` today, `YYYY-MM-DD HH:MM:SS` otherwise. */
export function fmtTime(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const now = new Date();
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return `${clock}.${pad(d.getMilliseconds(), 3)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}`;
}

/** The server's clock minus the browser's, so relative times read on server time. */
let serverOffset = 0;

export function setServerOffset(ms) {
  serverOffset = ms;
}

/** The server's now (Unix ms), as far as the page knows it. */
export const serverNow = () => Date.now() + serverOffset;

/** "in 5s", "3m ago": a short distance from the server's now. */
export function fmtRel(ms) {
  if (!ms) return "";
  const diff = ms - serverNow();
  const abs = Math.abs(diff);
  const units = [[86400000, "d"], [3600000, "h"], [60000, "m"], [1000, "s"]];
  const [size, unit] = units.find(([s]) => abs >= s) || [1, "ms"];
  const n = Math.floor(abs / size);
  return diff >= 0 ? `in ${n}${unit}` : `${n}${unit} ago`;
}

/** Decodes base64 to text; binary data is summarised. */
export function b64text(b64) {
  if (!b64) return "";
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return `(binary, ${bytes.length} bytes) ${b64}`;
    }
  } catch {
    return b64;
  }
}

/** Pretty-prints JSON text; anything else is returned unchanged. */
export function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  const t = text.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return text;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return text;
  }
}

/** `Name: value` lines (blank lines and `#` comments skipped) → `[name, value]` pairs; a line
 * without a colon throws, naming it. */
export function headerPairs(text) {
  const out = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith("#")) return;
    const at = t.indexOf(":");
    if (at <= 0) throw new Error(`header line ${i + 1} has no "Name: value"`);
    out.push([t.slice(0, at).trim(), t.slice(at + 1).trim()]);
  });
  return out;
}

/** `{"A": ["1", "2"]}` as `A: 1, 2` lines. */
export function headerLines(map) {
  if (!map) return "";
  return Object.entries(map)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`)
    .join("\n");
}

/** A coloured state badge. */
export function badge(state) {
  const s = String(state || "");
  return h("span", { class: `badge st-${s.toLowerCase()}`, text: s });
}

/**
 * Fills a side panel. `sections`: {title, rows: [[label, value]]} or {title, pre: text}.
 * `actions`: buttons shown on top.
 */
export function detail(panel, title, sections, actions = []) {
  const parts = [h("h2", { text: title })];
  if (actions.length) parts.push(h("div", { class: "actions" }, actions));
  for (const s of sections) {
    if (s.rows) {
      const rows = s.rows.filter(([, v]) => v !== undefined && v !== null && v !== "");
      if (!rows.length) continue;
      parts.push(h("h3", { text: s.title }));
      parts.push(h("dl", {}, rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)])));
    } else if (s.pre !== undefined && s.pre !== "") {
      parts.push(h("h3", { text: s.title }));
      parts.push(h("pre", { "data-testid": s.testid, text: s.pre }));
    }
  }
  panel.replaceChildren(...parts);
}

export function emptyDetail(panel, text = "Select a row to see its details.") {
  panel.replaceChildren(h("p", { class: "muted", text }));
}

/** A button that runs `fn` on click, disabled while it runs. */
export function button(label, fn, props = {}) {
  const b = h("button", { type: "button", ...props, text: label });
  b.addEventListener("click", async (ev) => {
    ev.stopPropagation();
    b.disabled = true;
    try {
      await fn();
    } catch (e) {
      toast(e.message || String(e), "error");
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** Like `button`, but the first click only arms it ("Sure?"); the second within 3 s runs it. */
export function confirmClick(label, fn, props = {}) {
  let armed = 0;
  const b = button(label, async () => {
    if (Date.now() - armed > 3000) {
      armed = Date.now();
      b.textContent = "Sure?";
      b.classList.add("armed");
      setTimeout(() => {
        b.textContent = label;
        b.classList.remove("armed");
      }, 3000);
      return;
    }
    armed = 0;
    b.textContent = label;
    b.classList.remove("armed");
    await fn();
  }, { class: "danger", ...props });
  return b;
}

/** A short message in the corner. */
export function toast(text, kind = "info") {
  const box = $("#toasts");
  if (!box) return;
  const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", text });
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 6000 : 3000);
}
