// Reconciliation: CarbonMeter beside AWS's own carbon figures (the Customer Carbon Footprint Tool), month by
// month over the range: one request per month (a year is at most 13), never per point. A month AWS has not
// published, or that was never fetched, says so.

import { h, section, table } from "../dom.js";
import { mass } from "../format.js";

function monthsOf(window) {
  const months = [];
  const last = new Date(window.end.getTime() - 1);
  let year = window.start.getUTCFullYear();
  let month = window.start.getUTCMonth();
  while (year < last.getUTCFullYear() || (year === last.getUTCFullYear() && month <= last.getUTCMonth())) {
    months.push(`${year}-${String(month + 1).padStart(2, "0")}`);
    month += 1;
    if (month === 12) [year, month] = [year + 1, 0];
  }
  return months.slice(-13).reverse();
}

const ratio = (value) => (value === null || value === undefined ? "n/a" : value.toFixed(2));
const kg = (value) => (value === null || value === undefined ? "n/a" : mass(value));

function comparisons(caption, rows) {
  return table(
    caption,
    ["", "CarbonMeter", "AWS", "ratio"],
    rows.map((row) => [row.what, kg(row.carbonmeter_kg), kg(row.aws_kg), ratio(row.ratio)]),
    { numeric: [1, 2, 3] },
  );
}

export async function render({ api, connection, window, container }) {
  const months = monthsOf(window);
  const answers = await Promise.all(
    months.map((month) =>
      api
        .json(api.connectionPath(connection, "reconciliation"), { month })
        .then((found) => ({ month, found }))
        .catch((error) => {
          if (error.status === 401) throw error;
          return { month, error: error.message };
        }),
    ),
  );
  const rows = answers.map(({ month, found }) => {
    if (!found) return [month, "–", "–", "–"];
    const total = found.scopes[0];
    return [month, kg(total.carbonmeter_kg), kg(total.aws_kg), ratio(total.ratio)];
  });
  // What each month's figures cover, or why it has none, under the table (a column would crush a phone's screen).
  const about = answers.map(({ month, found, error }) =>
    h(
      "li",
      {},
      h("strong", {}, `${month}: `),
      found ? `${found.hours_calculated} of ${found.hours_in_month} hours calculated; AWS figures ${found.model_version}.` : error,
    ),
  );
  const latest = answers.find((answer) => answer.found);
  container.append(
    section(
      "CarbonMeter beside AWS, per month",
      table("CarbonMeter beside AWS, per month", ["month", "CarbonMeter", "AWS", "ratio"], rows, { numeric: [1, 2, 3] }),
      h("ul", { class: "months" }, about),
      h(
        "p",
        { class: "note" },
        "AWS publishes a month by the 21st of the next. Its figure covers the whole month; CarbonMeter's the hours it calculated.",
      ),
    ),
    latest
      ? section(
          `${latest.month} in detail`,
          h("div", { class: "pair" }, comparisons("By scope", latest.found.scopes), comparisons("By service", latest.found.by_service)),
          comparisons("By region", latest.found.by_region),
          h("h3", {}, "Why the two differ"),
          h("ul", {}, latest.found.causes.map((cause) => h("li", {}, cause))),
        )
      : null,
  );
  return {
    csv: {
      header: ["month", "scope", "carbonmeter_kgco2e", "aws_kgco2e", "ratio"],
      rows: answers.flatMap(({ month, found }) =>
        found ? found.scopes.map((s) => [month, s.what, s.carbonmeter_kg, s.aws_kg, s.ratio]) : [[month, "", "", "", ""]],
      ),
    },
    name: `carbonmeter-${connection}-reconciliation-${months[0] ?? ""}.csv`,
  };
}
