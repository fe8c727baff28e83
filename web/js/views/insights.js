// Anomalies and recommendations: the runs of unusual hours found in the range (each with what drove it), and the
// changes that would save the most kg CO2e a month, re-estimated by the methodology. One request each.

import { h, section, table } from "../dom.js";
import { hourText, mass, usd } from "../format.js";
import { isoHour } from "../ranges.js";

const MAX_DAYS = 31;

export function recommendationDays(window) {
  const days = Math.ceil((window.end - window.start) / (24 * 3600 * 1000));
  return Math.min(MAX_DAYS, Math.max(1, days));
}

function anomalyRows(anomalies) {
  return anomalies.map((anomaly) => {
    const excess = anomaly.kind === "emissions" ? mass(anomaly.excess) : `${Math.round(anomaly.excess)} resource-hours`;
    const drivers = (anomaly.contributors || [])
      .slice(0, 3)
      .map((c) => `${c.resource_id} (${c.resource_type}, ${mass(c.kgco2e)})`)
      .join("; ");
    return [
      `${anomaly.service} in ${anomaly.region}`,
      `${anomaly.kind} ${anomaly.direction === "up" ? "higher" : "lower"} than usual`,
      `${hourText(anomaly.start)} to ${hourText(anomaly.end)}`,
      excess,
      drivers || "–",
    ];
  });
}

function recommendationRows(recommendations) {
  return recommendations.map((r) => [
    r.change,
    `${r.service ?? "–"} in ${r.region}`,
    r.resource_id,
    mass(r.saving_kgco2e_per_month),
    `${mass(r.saving_kgco2e_per_month_range.low, r.saving_kgco2e_per_month)} – ${mass(r.saving_kgco2e_per_month_range.high, r.saving_kgco2e_per_month)}`,
    usd(r.saving_usd_per_month),
  ]);
}

export async function render({ api, connection, window, container }) {
  const days = recommendationDays(window);
  const [found, advice] = await Promise.all([
    api.json(api.connectionPath(connection, "anomalies"), { start: isoHour(window.start), end: isoHour(window.end) }),
    api.json(api.connectionPath(connection, "recommendations"), { days: String(days) }),
  ]);
  const anomalies = Array.isArray(found) ? found : found.anomalies;
  container.append(
    section(
      "Anomalies",
      h("p", { class: "note" }, "Runs of hours whose emissions or resource count differ from the same hours of earlier weeks."),
      table("Anomalies", ["series", "what", "when (UTC)", "excess", "largest resources"], anomalyRows(anomalies), {
        numeric: [3],
        wide: [4],
      }),
    ),
    section(
      "Recommendations",
      h(
        "p",
        { class: "note" },
        `From the last ${days} day(s) (${advice.hours_read} hours read), savings in kg CO2e a month, with their bounds.`,
      ),
      table(
        "Recommendations",
        ["change", "where", "resource", "saving a month", "low – high", "USD a month"],
        recommendationRows(advice.recommendations),
        { numeric: [3, 4, 5], wide: [1, 2, 4, 5] },
      ),
      advice.information.length ? h("h3", {}, "For information (not ranked)") : null,
      advice.information.length
        ? table("For information", ["change", "where", "resource", "saving a month", "low – high", "USD a month"], recommendationRows(advice.information), {
            numeric: [3, 4, 5],
            wide: [1, 2, 4, 5],
          })
        : null,
    ),
  );
  return {
    csv: {
      header: ["kind", "service", "region", "what", "start", "end", "kgco2e_or_count", "resource_id", "change", "saving_kgco2e_per_month"],
      rows: [
        ...anomalies.map((a) => ["anomaly", a.service, a.region, `${a.kind} ${a.direction}`, a.start, a.end, a.excess, "", "", ""]),
        ...advice.recommendations.map((r) => [
          "recommendation", r.service, r.region, r.rule, advice.start, advice.end, "", r.resource_id, r.change, r.saving_kgco2e_per_month,
        ]),
      ],
    },
    name: `carbonmeter-${connection}-insights-${isoHour(window.start)}.csv`,
  };
}
