// How figures are written on the page: three significant figures (as the CLI's report), in a unit that keeps the
// number readable. The browser tests read these strings back, so the rule lives here once.

export function significant(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "n/a";
  if (value === 0) return "0";
  const rounded = Number(value.toPrecision(digits));
  const magnitude = Math.floor(Math.log10(Math.abs(rounded)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return rounded.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

const MASS = [
  [1000, "t", 1 / 1000],
  [1, "kg", 1],
  [0, "g", 1000],
];
const ENERGY = [
  [1000, "MWh", 1 / 1000],
  [1, "kWh", 1],
  [0, "Wh", 1000],
];

function scaled(value, units, reference = value) {
  const [, unit, factor] = units.find(([floor]) => Math.abs(reference) >= floor) ?? units[units.length - 1];
  return { number: significant(value * factor), unit };
}

/** kg CO2e as "73.4 kg"; ``reference`` picks the unit, so a range's bounds share their central figure's unit. */
export function mass(kg, reference = kg) {
  const { number, unit } = scaled(kg, MASS, reference);
  return `${number} ${unit}`;
}

export function energy(kwh, reference = kwh) {
  const { number, unit } = scaled(kwh, ENERGY, reference);
  return `${number} ${unit}`;
}

export function usd(value) {
  return value === null || value === undefined ? "n/a" : `USD ${value.toFixed(2)}`;
}

export function percent(share) {
  return share === null || share === undefined ? "n/a" : `${(share * 100).toFixed(0)}%`;
}

export function hourText(iso) {
  if (!iso) return "never";
  return iso.replace("T", " ").replace(/:00(\.000)?Z$/, " UTC").replace(/Z$/, " UTC");
}

export function dayText(date) {
  return date.toISOString().slice(0, 10);
}
