// A plain table for the short lists (schedules, queues, URL groups, flow-control keys). It
// rebuilds its rows only when the data changed, so auto refresh keeps focus and armed buttons.

import { h } from "./dom.js";

export class TableView {
  /**
   * @param table    a <table> element
   * @param columns  [{label, class, cell(row) → Node|string|Node[]}]
   * @param key      row → unique string
   * @param onSelect row → void (optional)
   * @param testid   data-testid of every row
   */
  constructor(table, { columns, key, onSelect, testid, empty }) {
    Object.assign(this, { table, columns, key, onSelect, testid, empty });
    this.rows = [];
    this.signature = null;
    this.selected = null;
  }

  set(rows) {
    const sig = JSON.stringify(rows);
    if (sig === this.signature) return;
    this.signature = sig;
    this.rows = rows;
    this.render();
  }

  select(key) {
    this.selected = key;
    for (const tr of this.table.querySelectorAll("tbody tr[data-key]")) {
      const on = tr.dataset.key === key;
      tr.classList.toggle("selected", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
    }
  }

  render() {
    const head = h("tr", {}, this.columns.map((c) => h("th", { scope: "col", class: c.class || "", text: c.label })));
    const body = this.rows.map((r) => {
      const k = this.key(r);
      const tr = h("tr", {
        "data-testid": this.testid,
        "data-key": k,
        tabindex: this.onSelect ? 0 : undefined,
        class: k === this.selected ? "selected" : "",
        "aria-selected": k === this.selected ? "true" : "false",
      }, this.columns.map((c) => h("td", { class: c.class || "" }, c.cell(r))));
      if (this.onSelect) {
        tr.addEventListener("click", () => this.onSelect(r));
        tr.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter" && ev.target === tr) this.onSelect(r);
        });
      }
      return tr;
    });
    if (!this.rows.length) {
      body.push(h("tr", { class: "empty" }, h("td", { colSpan: this.columns.length, text: this.empty || "Nothing here yet." })));
    }
    this.table.replaceChildren(h("thead", {}, head), h("tbody", {}, body));
  }
}
