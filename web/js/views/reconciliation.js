import { h, section } from "../dom.js";

export async function render({ container }) {
  container.append(section("Not ready", h("p", {}, "This view is not built yet.")));
  return { csv: { header: [], rows: [] }, name: "carbonmeter.csv" };
}
