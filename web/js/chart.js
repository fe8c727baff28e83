// A figure over time with its low-high band, drawn by uPlot (its bands fill between two series). Each chart's
// data stays readable on window.carbonmeter.charts, so that the browser tests check the band against the API.

import uPlot from "../vendor/uplot/uPlot.esm.js";

const COLOURS = {
  co2: { line: "#1b5e20", band: "rgba(46, 125, 50, 0.22)", edge: "rgba(27, 94, 32, 0.55)" },
  energy: { line: "#0d47a1", band: "rgba(21, 101, 192, 0.2)", edge: "rgba(13, 71, 161, 0.5)" },
};

function registry() {
  window.carbonmeter = window.carbonmeter || {};
  window.carbonmeter.charts = window.carbonmeter.charts || {};
  return window.carbonmeter.charts;
}

/**
 * Draw ``points`` ({t: ms, central, low, high}, null figures for periods with none) into ``container``.
 * ``format`` writes a value for the axis and the legend; ``name`` keys the chart in the test hook.
 */
export function bandChart(container, { name, title, points, format, colour = "co2" }) {
  const colours = COLOURS[colour];
  const data = [
    points.map((point) => point.t / 1000),
    points.map((point) => point.central),
    points.map((point) => point.low),
    points.map((point) => point.high),
  ];
  const daily = points.length > 1 && points[1].t - points[0].t >= 24 * 3600 * 1000;
  const legend = (u, value) => (value === null || value === undefined ? "–" : format(value));
  const options = {
    title,
    // Periods are UTC hours and days: the axis says so, whatever the browser's time zone.
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    width: Math.max(280, container.clientWidth),
    height: container.clientWidth < 500 ? 220 : 300,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    series: [
      { label: "UTC", value: (u, seconds) => (seconds ? new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") : "–") },
      { label: "central", stroke: colours.line, width: 2, value: legend, spanGaps: false },
      { label: "low", stroke: colours.edge, width: 1, dash: [4, 4], value: legend },
      { label: "high", stroke: colours.edge, width: 1, dash: [4, 4], value: legend },
    ],
    // The band: between the high series (3) and the low series (2).
    bands: [{ series: [3, 2], fill: colours.band }],
    axes: [
      { stroke: "#333", grid: { stroke: "#e3e3e3" }, space: 50, values: (u, splits) => splits.map((t) => timeLabel(t, daily)) },
      // No axis label: the chart's title names the figure, and the ticks carry the unit.
      { stroke: "#333", grid: { stroke: "#e3e3e3" }, size: 72, values: (u, values) => values.map((v) => format(v)) },
    ],
    legend: { live: true },
  };
  const plot = new uPlot(options, data, container);
  const observer = new ResizeObserver(() => {
    const width = Math.max(280, container.clientWidth);
    if (width !== plot.width) plot.setSize({ width, height: width < 500 ? 220 : 300 });
  });
  observer.observe(container);
  registry()[name] = { plot, labels: plot.series.map((series) => series.label), bands: plot.bands };
  return {
    destroy() {
      observer.disconnect();
      plot.destroy();
      delete registry()[name];
    },
  };
}

/** An axis label in UTC: by day the date; by hour the hour, and under it the date at midnight. */
function timeLabel(seconds, daily) {
  const text = new Date(seconds * 1000).toISOString();
  const hour = text.slice(11, 16);
  if (daily) return text.slice(5, 10);
  return hour === "00:00" ? `${hour}\n${text.slice(5, 10)}` : hour;
}

/** Every period of the window (null figures where the API had none), so that gaps show as gaps. */
export function periodsOf(window, byPeriod) {
  const points = [];
  for (let t = window.start.getTime(); t < window.end.getTime(); t += window.step) {
    const found = byPeriod.get(t);
    points.push(found ? { t, ...found } : { t, central: null, low: null, high: null });
  }
  return points;
}
