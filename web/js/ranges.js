// The range picker's choices. The API takes whole past hours (end exclusive, never after the current hour); by day
// the range starts and ends at midnight UTC, so the day ranges end at the start of today.

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

export const RANGES = [
  { id: "6h", label: "Last 6 hours", hours: 6, granularity: "hour" },
  { id: "24h", label: "Last 24 hours", hours: 24, granularity: "hour" },
  { id: "48h", label: "Last 48 hours", hours: 48, granularity: "hour" },
  { id: "7d", label: "Last 7 days", hours: 168, granularity: "hour" },
  { id: "30d", label: "Last 30 whole days", days: 30, granularity: "day" },
  { id: "365d", label: "Last 365 whole days", days: 365, granularity: "day" },
];
export const DEFAULT_RANGE = "7d";

/** The window of a choice at ``now``: {start, end} as Dates, the granularity, and its period in milliseconds. */
export function windowOf(id, now = new Date()) {
  const choice = RANGES.find((range) => range.id === id) ?? RANGES.find((range) => range.id === DEFAULT_RANGE);
  if (choice.granularity === "hour") {
    const end = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
    return { ...choice, start: new Date(end.getTime() - choice.hours * HOUR_MS), end, step: HOUR_MS };
  }
  const end = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
  return { ...choice, start: new Date(end.getTime() - choice.days * DAY_MS), end, step: DAY_MS };
}

/** The API's form of a time: 2026-11-30T00:00:00Z. */
export function isoHour(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function windowText(window) {
  const text = (date) => date.toISOString().slice(0, 16).replace("T", " ");
  return `${text(window.start)} to ${text(window.end)} UTC (end exclusive), by ${window.granularity}`;
}
