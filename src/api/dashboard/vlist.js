// A virtual list: however many items it holds, only the rows in view (plus a few) exist in
// the DOM. Rows have one fixed height; a spacer gives the scroll area its full height.

import { h } from "./dom.js";

const OVERSCAN = 8;

export class VirtualList {
  /**
   * @param root      the scroll container (its height comes from CSS)
   * @param rowHeight pixels per row, as in the CSS
   * @param columns   [{label, class, cell(item) → Node|string}]
   * @param key       item → unique string, for the selection
   * @param onSelect  item → void
   * @param testid    data-testid of every row
   */
  constructor(root, { rowHeight, columns, key, onSelect, testid, empty }) {
    Object.assign(this, { root, rowHeight, columns, key, onSelect, testid, empty });
    this.items = [];
    this.selected = null;
    this.frame = 0;
    root.setAttribute("role", "table");
    root.setAttribute("aria-rowcount", "0");
    root.tabIndex = -1;
    this.head = h("div", { class: "vrow vhead", role: "row" },
      columns.map((c) => h("div", { class: `vcell ${c.class || ""}`, role: "columnheader", text: c.label })));
    this.spacer = h("div", { class: "vspacer" });
    this.rows = h("div", { class: "vrows", role: "rowgroup" });
    this.spacer.append(this.rows);
    this.placeholder = h("p", { class: "muted vempty", hidden: true });
    root.replaceChildren(this.head, this.spacer, this.placeholder);
    root.addEventListener("scroll", () => this.schedule());
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => this.schedule()).observe(root);
  }

  /** Replaces the items; `shift` rows were added above, so the view keeps its place. */
  setItems(items, shift = 0) {
    this.items = items;
    if (shift && this.root.scrollTop > 0) this.root.scrollTop += shift * this.rowHeight;
    this.root.setAttribute("aria-rowcount", String(items.length));
    this.spacer.style.height = `${items.length * this.rowHeight}px`;
    this.placeholder.hidden = items.length > 0;
    this.placeholder.textContent = this.empty || "Nothing here yet.";
    this.render();
  }

  select(key) {
    this.selected = key;
    this.render();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    // The sticky header covers the top of the view, so rows start at scrollTop.
    const top = this.root.scrollTop;
    const view = this.root.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((top + view) / this.rowHeight) + OVERSCAN);
    const rows = [];
    for (let i = first; i < last; i++) rows.push(this.row(this.items[i], i));
    this.rows.style.transform = `translateY(${first * this.rowHeight}px)`;
    this.rows.replaceChildren(...rows);
  }

  row(item, i) {
    const k = this.key(item);
    const sel = k === this.selected;
    const r = h("div", {
      class: `vrow${sel ? " selected" : ""}${i % 2 ? " odd" : ""}`,
      role: "row",
      tabindex: 0,
      "aria-rowindex": i + 2,
      "aria-selected": sel ? "true" : "false",
      "data-testid": this.testid,
      "data-key": k,
    }, this.columns.map((c) => h("div", { class: `vcell ${c.class || ""}`, role: "cell" }, c.cell(item))));
    r.addEventListener("click", () => this.onSelect(item));
    r.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") this.onSelect(item);
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const next = this.items[i + (ev.key === "ArrowDown" ? 1 : -1)];
        if (next) {
          this.onSelect(next);
          this.reveal(i + (ev.key === "ArrowDown" ? 1 : -1));
        }
      }
    });
    return r;
  }

  /** Scrolls row `i` into view and focuses it. */
  reveal(i) {
    const y = i * this.rowHeight;
    const headH = this.head.offsetHeight;
    const view = this.root.clientHeight - headH;
    if (y < this.root.scrollTop) this.root.scrollTop = y;
    else if (y + this.rowHeight > this.root.scrollTop + view) this.root.scrollTop = y + this.rowHeight - view;
    this.render();
    const el = this.rows.querySelector(`[aria-rowindex="${i + 2}"]`);
    if (el) el.focus();
  }
}
