// Overview: totals with their ranges, the footprint over time with its band, by service and by region, the top
// resources and a plain-language equivalent. Two requests at once draw the first view: the footprint by region (the
// totals, the charts, the regions) and the services over the whole range (their breakdown, from the largest stored
// roll-ups: a year is a few reads, not 365 days of every service). The top resources of the whole range follow (the
// route reads the days' and months' stored tops, a handful of reads whatever the range). Never a request per point.

import { bandChart, periodsOf } from "../chart.js";
import { h, section, table } from "../dom.js";
import { energy, hourText, mass, significant } from "../format.js";
import { isoHour } from "../ranges.js";

const TOP = 10;

const total = (point) => ({
  central: point.operational_kgco2e.central + point.embodied_kgco2e.central,
  low: point.operational_kgco2e.low + point.embodied_kgco2e.low,
  high: point.operational_kgco2e.high + point.embodied_kgco2e.high,
});

function add(into, figure) {
  into.central += figure.central;
  into.low += figure.low;
  into.high += figure.high;
  return into;
}

const zero = () => ({ central: 0, low: 0, high: 0 });

export function query(window, groupBy, start = window.start) {
  return { start: isoHour(start), end: isoHour(window.end), granularity: window.granularity, group_by: groupBy };
}

function figureText(figure, writer, key) {
  return h(
    "span",
    { class: "figure", dataset: { figure: key } },
    h("span", { class: "central", dataset: { part: "central" } }, writer(figure.central)),
    h(
      "span",
      { class: "bounds" },
      " [",
      h("span", { dataset: { part: "low" } }, writer(figure.low, figure.central)),
      " – ",
      h("span", { dataset: { part: "high" } }, writer(figure.high, figure.central)),
      "]",
    ),
  );
}

function totalsCard(footprint) {
  const co2 = add(add(zero(), footprint.totals.operational_kgco2e), footprint.totals.embodied_kgco2e);
  const item = (label, figure, writer, key) =>
    h("div", { class: "total" }, h("dt", {}, label), h("dd", {}, figureText(figure, writer, key)));
  return section(
    "Totals",
    h(
      "dl",
      { class: "totals", id: "totals" },
      item("Total CO2e", co2, mass, "total_kgco2e"),
      item("Operational CO2e", footprint.totals.operational_kgco2e, mass, "operational_kgco2e"),
      item("Embodied CO2e", footprint.totals.embodied_kgco2e, mass, "embodied_kgco2e"),
      item("Energy", footprint.totals.energy_kwh, energy, "energy_kwh"),
    ),
    h(
      "p",
      { class: "note" },
      `${footprint.hours_covered} of ${footprint.hours_in_range} hours of the range have figures. `,
      "Low and high: every part at its low, or every part at its high (bounds, not a confidence interval).",
    ),
  );
}

function equivalentCard(footprint, equivalents) {
  const car = equivalents.car_km;
  const kg = footprint.totals.operational_kgco2e.central + footprint.totals.embodied_kgco2e.central;
  const km = kg / car.kgco2e_per_km;
  return section(
    "In plain words",
    h("p", { class: "equivalent" }, `About ${significant(km)} ${car.text}.`),
    h("p", { class: "note" }, "Source: ", h("a", { href: car.url, rel: "noopener" }, car.source), ` (${car.licence}).`),
  );
}

/** Per period: the sum over groups of a figure (``pick``), for the chart. */
function byPeriod(series, pick) {
  const found = new Map();
  for (const point of series) {
    const t = Date.parse(point.period_start);
    found.set(t, add(found.get(t) ?? zero(), pick(point)));
  }
  return found;
}

function chartsCard(footprint, window, charts) {
  const co2Box = h("div", { class: "chart", id: "chart-co2" });
  const energyBox = h("div", { class: "chart", id: "chart-energy" });
  const card = section(
    "Over time",
    h("p", { class: "note" }, `Per ${window.granularity}: the line is the central figure, the shaded band runs from low to high.`),
    co2Box,
    energyBox,
  );
  // Drawn once the card is in the page (uPlot measures its box).
  queueMicrotask(() => {
    charts.push(
      bandChart(co2Box, {
        name: "co2",
        title: "CO2e (operational + embodied)",
        points: periodsOf(window, byPeriod(footprint.series, total)),
        format: (v) => mass(v),
      }),
      bandChart(energyBox, {
        name: "energy",
        title: "Energy",
        colour: "energy",
        points: periodsOf(window, byPeriod(footprint.series, (point) => point.energy_kwh)),
        format: (v) => energy(v),
      }),
    );
  });
  return card;
}

/** A group of a breakdown (already over the whole range, largest first) as the tables show it. */
const rangeTotal = (group) => ({ group: group.group, co2: total(group), energy: group.energy_kwh });

/** Groups over the whole range, largest central CO2e first. */
export function groupTotals(series) {
  const groups = new Map();
  for (const point of series) {
    const entry = groups.get(point.group) ?? { group: point.group, co2: zero(), energy: zero() };
    add(entry.co2, total(point));
    add(entry.energy, point.energy_kwh);
    groups.set(point.group, entry);
  }
  return [...groups.values()].sort((a, b) => b.co2.central - a.co2.central);
}

function share(part, whole) {
  const percent = whole > 0 ? (100 * part) / whole : 0;
  const bar = h("span", { class: "bar" });
  // Through the CSSOM: the page's CSP allows no inline style attribute.
  bar.style.width = `${Math.min(100, percent).toFixed(1)}%`;
  return h(
    "span",
    { class: "share" },
    h("span", { class: "track", "aria-hidden": "true" }, bar),
    h("span", { class: "share-text" }, `${percent.toFixed(0)}%`),
  );
}

function breakdown(title, heading, groups) {
  const whole = groups.reduce((sum, group) => sum + group.co2.central, 0);
  return table(
    title,
    [heading, "CO2e [low – high]", "energy", "share"],
    groups.map((group) => [
      h("span", { class: "name" }, group.group),
      h(
        "span",
        {},
        mass(group.co2.central),
        h("span", { class: "bounds" }, `${mass(group.co2.low, group.co2.central)} – ${mass(group.co2.high, group.co2.central)}`),
      ),
      energy(group.energy.central),
      share(group.co2.central, whole),
    ]),
    { numeric: [1, 2], wide: [2] },
  );
}

const resourceTotal = (resource) => add(add(zero(), resource.operational_kgco2e), resource.embodied_kgco2e);

/** The top's rows: a rank marked "≈" when it is not certain, a total "at most" when periods did not list it. */
function topTable(top, whole) {
  return table(
    "Top resources",
    ["rank", "resource", "CO2e [low – high]", "energy", "share"],
    top.resources.map((resource) => {
      const co2 = resourceTotal(resource);
      return [
        h("span", { dataset: { certain: String(resource.rank_certain) } }, `${resource.rank_certain ? "" : "≈"}${resource.rank}`),
        h("span", { class: "name" }, `${resource.service}/${resource.region}/${resource.resource_id}`),
        h(
          "span",
          { dataset: { kgco2e: String(resource.kgco2e) } },
          mass(co2.central),
          h("span", { class: "bounds" }, `${mass(co2.low, co2.central)} – ${mass(co2.high, co2.central)}`),
          resource.exact ? "" : h("span", { class: "bounds" }, ` (at most ${mass(resource.most_kgco2e)})`),
        ),
        energy(resource.energy_kwh.central),
        share(co2.central, whole),
      ];
    }),
    { numeric: [0, 2, 3], wide: [3] },
  );
}

/** What the top can and cannot say, in plain words. */
function topNotes(top) {
  const notes = [];
  if (!top.exact) {
    notes.push(
      `Approximate: each hour, day and month keeps its 50 largest resources, so a resource marked ≈ may rank ` +
        `elsewhere, and one left out emitted at most ${mass(top.rest_most_kgco2e)}.`,
    );
  }
  if (top.hours_unknown > 0) {
    notes.push(`${top.hours_unknown} hours were calculated before the top resources were kept: their resources are not counted.`);
  }
  return notes.map((text) => h("p", { class: "note", dataset: { top: "approximate" } }, text));
}

export async function render({ api, connection, window, container, equivalents, charts, later }) {
  const path = api.connectionPath(connection, "footprint");
  // By region: the totals, the charts and the regions' breakdown; the services' comes whole from its own route.
  const main = query(window, "region");
  const services = { start: main.start, end: main.end, group_by: "service" };
  // The download holds every service in every region of each period: what both breakdowns and the charts add up.
  const exported = { ...main, group_by: "service_region", format: "csv" };
  // What the figures on screen come from, for the browser tests to ask the API the same.
  globalThis.carbonmeter.queries = {
    ...globalThis.carbonmeter.queries,
    overview: { connection, ...main },
    "overview-export": { connection, ...exported },
  };
  const [footprint, byService] = await Promise.all([
    api.json(path, main),
    api.json(api.connectionPath(connection, "breakdown"), services),
  ]);
  const top = h("div", { class: "loading" }, "Loading the top resources…");
  const whole = footprint.totals.operational_kgco2e.central + footprint.totals.embodied_kgco2e.central;
  const topQuery = { start: main.start, end: main.end, count: TOP };
  globalThis.carbonmeter.queries = { ...globalThis.carbonmeter.queries, top: { connection, ...topQuery } };
  container.append(
    totalsCard(footprint),
    chartsCard(footprint, window, charts),
    h(
      "div",
      { class: "pair" },
      section("By service", breakdown("By service", "service", byService.groups.map(rangeTotal))),
      section("By region", breakdown("By region", "region", groupTotals(footprint.series))),
    ),
    section(
      "Top resources",
      h(
        "p",
        { class: "note", id: "top-range" },
        `The ${TOP} that emitted the most from ${hourText(main.start)} to ${hourText(main.end)} (end exclusive); share of the range's total.`,
      ),
      top,
    ),
    equivalentCard(footprint, equivalents),
  );
  // A second request: the first view is drawn without waiting for it.
  later(
    api.json(api.connectionPath(connection, "top"), topQuery).then((found) => {
      top.className = "";
      top.replaceChildren(topTable(found, whole), ...topNotes(found));
    }),
  );
  return {
    csv: { path: api.connectionPath(connection, "export"), query: exported },
    name: `carbonmeter-${connection}-footprint-${isoHour(window.start)}.csv`,
  };
}
