// Cost and carbon: kg CO2e per USD by service (and by service and region), and how much of the account's spend
// CarbonMeter meters. Cost Explorer answers by whole UTC days, so the range is read as the whole days it covers
// (at least the last one). One request.

import { h, section, stat, table } from "../dom.js";
import { mass, percent, significant, usd } from "../format.js";
import { isoHour } from "../ranges.js";

const DAY = 24 * 3600 * 1000;

export function costDays(window) {
  const end = Math.floor(window.end.getTime() / DAY) * DAY;
  const start = Math.min(Math.floor(window.start.getTime() / DAY) * DAY, end - DAY);
  return { start: new Date(start), end: new Date(end) };
}

// The API gives no ratio without spend, nor when no hour of the days has figures (a 0 would read as carbon-free).
function perDollar(ratio) {
  return ratio === null ? "n/a" : significant(ratio);
}

export async function render({ api, connection, window, container }) {
  const days = costDays(window);
  const query = { start: isoHour(days.start), end: isoHour(days.end) };
  const found = await api.json(api.connectionPath(connection, "cost"), query);
  const coverage = found.coverage;
  container.append(
    section(
      "Spend metered",
      h(
        "dl",
        { class: "totals", id: "coverage" },
        stat("Share of spend metered", percent(coverage.metered_share)),
        stat("Spend", usd(coverage.total_usd)),
        stat("Metered spend", usd(coverage.metered_usd)),
        stat("Days with costs", `${found.days_with_costs} of ${found.days_in_window}`),
      ),
      h(
        "p",
        { class: "note" },
        `Whole UTC days ${found.start} to ${found.end} (end exclusive); ${found.estimated_days} day(s) still estimated by AWS; `,
        `carbon from ${found.hours_calculated} of ${found.hours_in_window} hours.`,
      ),
    ),
    section(
      "Carbon per dollar by service",
      table(
        "Carbon per dollar by service",
        ["service", "CO2e", "spend", "kg CO2e/USD"],
        found.services.map((s) => [s.service, mass(s.kgco2e), usd(s.usd), perDollar(s.kgco2e_per_usd)]),
        { numeric: [1, 2, 3], wide: [1] },
      ),
    ),
    section(
      "By service and region",
      table(
        "By service and region",
        ["service", "region", "CO2e", "spend", "kg CO2e/USD"],
        found.rows.map((row) => [row.service, row.region, mass(row.kgco2e), usd(row.usd), perDollar(row.kgco2e_per_usd)]),
        { numeric: [2, 3, 4], wide: [2, 3] },
      ),
    ),
    section(
      "Spend CarbonMeter does not meter",
      table(
        "Spend CarbonMeter does not meter",
        ["AWS service", "spend"],
        coverage.unmetered.map((line) => [line.aws_service, usd(line.usd)]),
        { numeric: [1] },
      ),
    ),
  );
  return {
    csv: {
      header: ["service", "region", "kgco2e", "usd", "kgco2e_per_usd"],
      rows: found.rows.map((row) => [row.service, row.region, row.kgco2e, row.usd, row.kgco2e_per_usd]),
    },
    name: `carbonmeter-${connection}-cost-${found.start}.csv`,
  };
}
