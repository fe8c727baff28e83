// The API reference: Swagger UI over the signed-in user's OpenAPI document. The document and every "Try it out"
// go to the API with this tab's ID token, so a visitor without a session sees no route and can call none.
// Swagger UI is the pinned swagger-ui-dist, served from the page's own files (the page's CSP allows no CDN).

import { currentSession } from "./auth.js";

const $ = (id) => document.getElementById(id);

function say(text, kind = "status") {
  $("docs-status").className = kind;
  $("docs-status").textContent = text;
}

async function start() {
  const session = currentSession();
  if (!session) {
    say("Sign in on the page first: the reference shows the API to signed-in users only.", "error");
    $("docs-status").append(" ", Object.assign(document.createElement("a"), { href: "../index.html", textContent: "Sign in" }));
    return;
  }
  const config = await fetch("../config.json").then((r) => r.json());
  const base = config.apiBase.replace(/\/$/, "");
  const authorised = (request) => {
    request.headers.Authorization = `Bearer ${session.token}`;
    return request;
  };
  const answer = await fetch(`${base}/openapi.json`, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!answer.ok) {
    say(answer.status === 401 ? "Your session has ended; sign in again on the page." : `The API answered ${answer.status}.`, "error");
    return;
  }
  const spec = await answer.json();
  window.SwaggerUIBundle({
    spec,
    dom_id: "#swagger-ui",
    requestInterceptor: authorised,
    // No call to swagger.io's validator, no query-string configuration a link could smuggle in.
    validatorUrl: null,
    queryConfigEnabled: false,
    tryItOutEnabled: true,
  });
  say(`Signed in: "Try it out" calls the API as you, under ${base}.`);
}

// The bundle is a classic deferred script: it has run by the time this module does.
start().catch(() => say("The API reference could not be loaded; reload the page to try again.", "error"));
