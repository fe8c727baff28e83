// The HTTP API (docs/api.md): one GET per figure set, the ID token as a bearer token. A 401 means the session is
// over; the caller signs the user out.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  constructor(base, token, onUnauthorized) {
    this.base = base.replace(/\/$/, "");
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  url(path, query = {}) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.set(name, value);
    }
    const text = params.toString();
    return `${this.base}${path}${text ? `?${text}` : ""}`;
  }

  async fetch(path, query) {
    let response;
    try {
      response = await fetch(this.url(path, query), { headers: { Authorization: `Bearer ${this.token}` } });
    } catch {
      throw new ApiError(0, "The API cannot be reached; check your connection and try again.");
    }
    if (response.status === 401) {
      this.onUnauthorized();
      throw new ApiError(401, "Your session has ended; sign in again.");
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new ApiError(response.status, body.message || `The API answered ${response.status}.`);
    }
    return response;
  }

  async json(path, query) {
    return (await this.fetch(path, query)).json();
  }

  async text(path, query) {
    return (await this.fetch(path, query)).text();
  }

  connections() {
    return this.json("/connections");
  }

  connectionPath(id, what) {
    return `/connections/${encodeURIComponent(id)}/${what}`;
  }
}
