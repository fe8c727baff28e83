// The page: sign-in, the pickers, the five views. config.json (written by the stack, or by the local server) says
// where Cognito and the API are; nothing secret is in it or in the page.

import { Api } from "./api.js";
import { Challenge, answerNewPassword, claims, currentSession, signIn, signOut } from "./auth.js";
import { clear, h } from "./dom.js";
import { DEFAULT_RANGE, RANGES, windowOf, windowText } from "./ranges.js";
import * as cost from "./views/cost.js";
import * as health from "./views/health.js";
import * as insights from "./views/insights.js";
import * as overview from "./views/overview.js";
import * as reconciliation from "./views/reconciliation.js";
import { download, toCsv } from "./csv.js";

const VIEWS = { overview, health, cost, insights, reconciliation };
const $ = (id) => document.getElementById(id);

const state = { config: null, equivalents: null, api: null, view: "overview", shown: null, charts: [], challenge: null, generation: 0 };
window.carbonmeter = window.carbonmeter || {};

async function start() {
  [state.config, state.equivalents] = await Promise.all([
    fetch("config.json").then((r) => r.json()),
    fetch("data/equivalents.json").then((r) => r.json()),
  ]);
  $("sign-in-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", () => leave());
  $("connection").addEventListener("change", () => show());
  $("range").addEventListener("change", () => show());
  $("download").addEventListener("click", onDownload);
  window.addEventListener("hashchange", () => show());
  $("range").replaceChildren(...RANGES.map((range) => h("option", { value: range.id }, range.label)));
  $("range").value = DEFAULT_RANGE;
  const session = currentSession();
  if (session) await enter(session);
  else askSignIn();
}

function askSignIn(message = "") {
  $("app").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("username").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    $("sign-in-error").textContent = "Enter your user name and password.";
    return;
  }
  $("sign-in-button").disabled = true;
  $("sign-in-error").textContent = "";
  try {
    const session = state.challenge
      ? await answerNewPassword(state.config, state.challenge, $("new-password").value)
      : await signIn(state.config, username, password);
    state.challenge = null;
    $("new-password-box").hidden = true;
    $("password").value = "";
    await enter(session);
  } catch (error) {
    if (error instanceof Challenge && error.name === "NEW_PASSWORD_REQUIRED") {
      state.challenge = error;
      $("new-password-box").hidden = false;
      $("new-password").focus();
    }
    $("sign-in-error").textContent = error.message;
  } finally {
    $("sign-in-button").disabled = false;
  }
}

function leave(message) {
  signOut();
  state.api = null;
  destroyCharts();
  clear($("view"));
  askSignIn(message);
}

async function enter(session) {
  const who = claims(session);
  state.api = new Api(state.config.apiBase, session.token, () => leave("Your session has ended; sign in again."));
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who-name").replaceChildren(h("span", { class: "who-label" }, "Signed in as "), who["cognito:username"] || who.email || "you");
  let listed;
  try {
    listed = await state.api.connections();
  } catch (error) {
    $("status").textContent = error.message;
    return;
  }
  const connections = listed.connections;
  $("connection").replaceChildren(
    ...connections.map((connection) => h("option", { value: connection.connection_id }, connection.connection_id)),
  );
  window.carbonmeter.connections = connections;
  if (!connections.length) {
    $("status").textContent = "No connection is visible to you yet.";
    return;
  }
  await show();
  $("content").focus();
}

function destroyCharts() {
  for (const chart of state.charts.splice(0)) chart.destroy();
}

function currentView() {
  const name = location.hash.replace("#", "");
  return VIEWS[name] ? name : "overview";
}

async function show() {
  if (!state.api || !$("connection").value) return;
  const generation = ++state.generation;
  const name = currentView();
  const window_ = windowOf($("range").value);
  for (const link of document.querySelectorAll("#tabs a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("range-text").textContent = windowText(window_);
  destroyCharts();
  const container = clear($("view"));
  container.dataset.ready = "";
  container.dataset.shown = "";
  container.setAttribute("aria-busy", "true");
  $("status").textContent = "Loading…";
  const pending = [];
  try {
    const shown = await VIEWS[name].render({
      api: state.api,
      connection: $("connection").value,
      window: window_,
      container,
      equivalents: state.equivalents,
      charts: state.charts,
      later: (...promises) => pending.push(...promises),
    });
    if (generation !== state.generation) return;
    state.shown = shown;
    // The first view is in the page; what follows it (the overview's top resources) marks the view ready.
    await new Promise((resolve) => requestAnimationFrame(resolve));
    container.dataset.shown = name;
    await Promise.all(pending);
    if (generation !== state.generation) return;
    await new Promise((resolve) => requestAnimationFrame(resolve));
    $("status").textContent = "";
    container.dataset.ready = name;
  } catch (error) {
    if (generation !== state.generation) return;
    $("status").textContent = error.message;
    container.dataset.ready = `${name}-failed`;
  } finally {
    container.removeAttribute("aria-busy");
  }
}

async function onDownload() {
  const shown = state.shown;
  if (!shown) return;
  try {
    // The overview's rows are the API's export of the same range; the other views write their tables.
    const text = shown.csv.path ? await state.api.text(shown.csv.path, shown.csv.query) : toCsv(shown.csv.header, shown.csv.rows);
    download(shown.name, text);
  } catch (error) {
    $("status").textContent = error.message;
  }
}

start().catch((error) => {
  document.body.prepend(h("p", { class: "error", role: "alert" }, `The page could not start: ${error.message}`));
});
