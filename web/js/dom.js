// The few DOM helpers the views share: elements built from data, never from HTML strings (nothing the API
// returns is ever parsed as markup).

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** A table with a caption, column headings and rows of cells (strings or nodes); numeric columns right-aligned. */
export function table(caption, headings, rows, { numeric = [], wide = [] } = {}) {
  // ``wide``: columns left out on a narrow screen (the figure they detail stays in another column).
  const classes = (index) =>
    [numeric.includes(index) ? "num" : "", wide.includes(index) ? "wide" : ""].filter(Boolean).join(" ") || undefined;
  const cell = (tag, content, index) => h(tag, { class: classes(index), scope: tag === "th" ? "col" : undefined }, content);
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((heading, i) => cell("th", heading, i)))),
      h(
        "tbody",
        {},
        rows.length
          ? rows.map((row) => h("tr", {}, row.map((content, i) => cell("td", content, i))))
          : h("tr", {}, h("td", { colspan: String(headings.length), class: "empty" }, "Nothing in this range.")),
      ),
    ),
  );
}

export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/** One headline figure of a view: its label and its value as written. */
export function stat(label, text) {
  return h("div", { class: "total" }, h("dt", {}, label), h("dd", { class: "figure" }, h("span", { class: "central" }, text)));
}
