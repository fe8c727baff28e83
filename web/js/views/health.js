// Connection health: how its collection goes (last collected hour, last error, hours the hourly run is catching up
// on, what collecting costs the customer's account) and, for the range, each hour collected, missing or failed.
// The hour statuses are one request; the API answers at most two months of them, so a longer range shows its last
// 31 days.

import { h, section, stat, table } from "../dom.js";
import { hourText } from "../format.js";
import { isoHour } from "../ranges.js";

const STATUS_DAYS = 31;

function statusStart(window) {
  return new Date(Math.max(window.start.getTime(), window.end.getTime() - STATUS_DAYS * 24 * 3600 * 1000));
}

function kind(hour) {
  if (hour.state === "complete") return "complete";
  if (hour.state === "not collected") return "missing";
  return "failed";
}

// What collecting costs the customer a month: the calls are made with their role, so CloudWatch bills their account.
function monitoringText(monitoring) {
  const every = monitoring.window_hours === 1 ? "every hour" : `every ${monitoring.window_hours} hours`;
  if (monitoring.usd_per_month === null) return `not known until a first complete collection (collected ${every})`;
  const metrics = monitoring.metrics_per_collection.toLocaleString("en-US");
  return `USD ${monitoring.usd_per_month.toFixed(2)} a month of CloudWatch GetMetricData, billed to the ${monitoring.billed_to}: ${metrics} metrics a collection, collected ${every}`;
}

function summary(connection) {
  const item = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  return h(
    "dl",
    { class: "kv" },
    item("Regions", connection.regions.join(", ")),
    item("Services", connection.services.join(", ")),
    item("Collecting", connection.enabled ? "yes" : "no (disabled)"),
    item("Last collected hour", hourText(connection.last_collected_hour)),
    item(
      "Hours not yet collected",
      `${connection.hours_missing} of the last ${connection.hours_in_lookback ?? "?"} hours the hourly run looks back on`,
    ),
    item("Monitoring cost", monitoringText(connection.monitoring)),
    item(
      "Last error",
      connection.last_error ? `${connection.last_error} (${hourText(connection.last_error_at)})` : "none",
    ),
  );
}

function strip(hours) {
  return h(
    "div",
    { class: "hours", role: "img", "aria-label": "Each hour of the range: collected, failed or not collected" },
    hours.map((hour) => h("span", { class: `hour ${kind(hour)}`, title: `${hourText(hour.hour)}: ${hour.state}` })),
  );
}

function problems(hour) {
  const failed = Object.entries(hour.failed || {}).map(([scope, why]) => `${scope}: ${why}`);
  if (hour.calculation_error) failed.push(`calculation: ${hour.calculation_error}`);
  return failed.join("; ");
}

export async function render({ api, connection, window, container }) {
  const start = statusStart(window);
  const query = { start: isoHour(start), end: isoHour(window.end) };
  const [details, status] = await Promise.all([
    api.json(`/connections/${encodeURIComponent(connection)}`),
    api.json(api.connectionPath(connection, "status"), query),
  ]);
  const counts = { complete: 0, failed: 0, missing: 0 };
  for (const hour of status.hours) counts[kind(hour)] += 1;
  // Hours never collected are counted above; the table lists what a collection tried and did not finish.
  const notComplete = status.hours.filter((hour) => hour.state === "incomplete");
  container.append(
    section("Collection", summary(details)),
    section(
      "Hours of the range",
      h(
        "dl",
        { class: "totals", id: "hour-counts" },
        stat("Collected", String(counts.complete)),
        stat("Failed or incomplete", String(counts.failed)),
        stat("Not collected", String(counts.missing)),
        stat("Hours", String(status.hours_in_range)),
      ),
      h("p", { class: "note" }, `From ${hourText(query.start)} to ${hourText(query.end)}.`),
      strip(status.hours),
      h(
        "p",
        { class: "legend" },
        h("span", {}, h("span", { class: "hour complete" }), "collected"),
        h("span", {}, h("span", { class: "hour failed" }), "failed or incomplete"),
        h("span", {}, h("span", { class: "hour missing" }), "not collected"),
      ),
    ),
    section(
      "Hours that failed or are incomplete",
      table(
        "Hours that failed or are incomplete",
        ["hour", "state", "attempts", "what failed"],
        notComplete.slice(-50).reverse().map((hour) => [hourText(hour.hour), hour.state, String(hour.attempts), problems(hour)]),
        { numeric: [2], wide: [2] },
      ),
      notComplete.length > 50 ? h("p", { class: "note" }, `The latest 50 of ${notComplete.length}.`) : null,
    ),
  );
  return {
    csv: {
      header: ["hour", "state", "attempts", "calculated", "succeeded", "failed", "skipped"],
      rows: status.hours.map((hour) => [
        hour.hour,
        hour.state,
        hour.attempts,
        hour.calculated,
        (hour.succeeded || []).join(" "),
        problems(hour),
        Object.keys(hour.skipped || {}).join(" "),
      ]),
    },
    name: `carbonmeter-${connection}-health-${query.start}.csv`,
  };
}
