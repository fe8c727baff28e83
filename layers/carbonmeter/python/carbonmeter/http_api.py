"""The HTTP API's names that its function (``functions/api/``), the stack and the local server share."""

from __future__ import annotations

# Every route is under it: the page's distribution sends this path to the API, the rest to the page's files.
API_PREFIX = "/api/v1"
# Signed-in callers only: the page's API reference (web/api-docs/) draws it with Swagger UI.
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
# The JWT claim that names the caller's tenants (Cognito puts the user's groups there).
GROUPS_CLAIM = "cognito:groups"
