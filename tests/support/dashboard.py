"""What the browser tests do with a running ``make dashboard``: sign in (in the page, or for a token), call its
API as the page does, and read figures back from the page's text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
from playwright.sync_api import Page

from devtools.dashboard import Dashboard, DemoUser, local_request
from infra.constants import API_PREFIX

# A figure as the page writes it: "73.4 kg", "1,230 g", "5.93 kWh".
_FIGURE = re.compile(r"^(-?[\d,]+(?:\.\d+)?) (t|kg|g|MWh|kWh|Wh)$")
_SCALE = {"t": 1000.0, "kg": 1.0, "g": 0.001, "MWh": 1000.0, "kWh": 1.0, "Wh": 0.001}
# How long a view may take to draw before a test gives up (not a timing test: a hang guard).


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def user_of(site: Dashboard, tenant: str) -> DemoUser:
    return next(user for user in site.users if user.tenant == tenant)


def id_token(site: Dashboard, user: DemoUser) -> str:
    """The ID token the page would hold, from the embedded AWS's Cognito."""
    cognito = boto3.client("cognito-idp", region_name=site.region, endpoint_url=site.aws_endpoint)
    answer = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=site.client_id,
        AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
    )
    return str(answer["AuthenticationResult"]["IdToken"])


def resigned(token: str, **changes: Any) -> str:
    """``token`` with some claims changed, signed again with the embedded Cognito's own key: a token whose
    signature holds, so that only the changed claim can get it refused."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey
    from moto.utilities.utils import load_resource

    key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    claims = jwt.decode(token, key).claims | changes
    return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key)


def api_get(site: Dashboard, token: str | None, path: str, query: dict[str, str] | None = None) -> Answer:
    """GET ``path`` (under the API's prefix, e.g. ``/connections``) on the dashboard, as the page sends it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    target = f"{API_PREFIX}{path}" + (f"?{urlencode(query)}" if query else "")
    return Answer(*local_request(site.url, "GET", target, headers=headers))


def shown_figure(text: str) -> tuple[float, float]:
    """A figure the page shows, in kg or kWh, and half its last digit (the precision shown) in the same unit."""
    found = _FIGURE.match(text.strip())
    if found is None:
        raise AssertionError(f"not a figure as the page writes one: {text!r}")
    number, unit = found.group(1).replace(",", ""), found.group(2)
    decimals = len(number.split(".")[1]) if "." in number else 0
    return float(number) * _SCALE[unit], 0.5 * 10**-decimals * _SCALE[unit]


def page_query(page: Page, view: str) -> dict[str, str]:
    """The query of the view's main request, as the page exposes it for tests (``window.carbonmeter.queries``)."""
    return dict(page.evaluate(f"window.carbonmeter.queries[{json.dumps(view)}]"))
