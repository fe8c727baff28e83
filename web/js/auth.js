// Sign-in through Cognito's own API (InitiateAuth with USER_PASSWORD_AUTH), the same calls against the deployed
// user pool and against a local one. Only the ID token is kept, in this tab's sessionStorage: it goes with every
// API request as "Authorization: Bearer <token>", and leaves when the tab closes or the user signs out. The
// password is sent to Cognito only, never stored.

const KEY = "carbonmeter.session";
const TARGET = "AWSCognitoIdentityProviderService.";

export class SignInError extends Error {}

/** A challenge the user must answer before a token is given (a first sign-in's new password). */
export class Challenge extends Error {
  constructor(name, session, username) {
    super(name === "NEW_PASSWORD_REQUIRED" ? "Choose a new password to finish your first sign-in." : name);
    this.name = name;
    this.session = session;
    this.username = username;
  }
}

// Cognito's regional endpoint in the stack's partition, as config.json names it (a local server names its own
// stand-in, under the same origin).
function endpoint(config) {
  return config.cognitoEndpoint;
}

async function cognito(config, operation, body) {
  let response;
  try {
    response = await fetch(endpoint(config), {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + operation },
      body: JSON.stringify(body),
    });
  } catch {
    throw new SignInError("The sign-in service cannot be reached; check your connection and try again.");
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new SignInError(answer.message || `Sign-in failed (${answer.__type || response.status}).`);
  }
  return answer;
}

function started(result) {
  const session = { token: result.IdToken, expires: Date.now() + result.ExpiresIn * 1000 };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export async function signIn(config, username, password) {
  const answer = await cognito(config, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.clientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (answer.ChallengeName) throw new Challenge(answer.ChallengeName, answer.Session, username);
  return started(answer.AuthenticationResult);
}

export async function answerNewPassword(config, challenge, newPassword) {
  const answer = await cognito(config, "RespondToAuthChallenge", {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: config.clientId,
    Session: challenge.session,
    ChallengeResponses: { USERNAME: challenge.username, NEW_PASSWORD: newPassword },
  });
  if (answer.ChallengeName) throw new Challenge(answer.ChallengeName, answer.Session, challenge.username);
  return started(answer.AuthenticationResult);
}

/** The session of this tab, or null when there is none or its token has expired. */
export function currentSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY));
    if (session && session.token && session.expires > Date.now() + 30 * 1000) return session;
  } catch {
    // A damaged entry is no session.
  }
  signOut();
  return null;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** The token's claims, to greet the user: read, not trusted (the API checks the token). */
export function claims(session) {
  try {
    const payload = session.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}
