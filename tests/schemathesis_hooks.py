"""Schemathesis hooks for tests/test_schemathesis.py: the caller's session.

The `st` child process imports this module (``SCHEMATHESIS_HOOKS``). When
``JINGDI_ST_IDENTITY`` is ``staff`` (with ``JINGDI_ST_USERNAME`` and
``JINGDI_ST_PASSWORD``) or ``citizen``, every generated request carries that
caller's session cookie, the ``_xsrf`` cookie and the matching
``X-XSRFToken`` header, as the PWA sends them. Generated requests may end the
session (logout, an admin changing their own roles); Schemathesis asks for a
new one on the next 401, so the rest of the run keeps its identity.
"""

from __future__ import annotations

import os

import requests
import schemathesis

IDENTITY = os.environ.get("JINGDI_ST_IDENTITY", "")
# Loopback requests to the test server; a stuck one should fail, not hang.
TIMEOUT_S = 10


def open_session(base_url: str) -> dict[str, str]:
    """Sign in as the configured caller; returns its session and XSRF token."""
    http = requests.Session()
    # Proxies from the environment must not see the loopback test server.
    http.trust_env = False
    terms = http.get(f"{base_url}/api/terms", timeout=TIMEOUT_S)
    terms.raise_for_status()
    xsrf = http.cookies["_xsrf"]
    if IDENTITY == "staff":
        path = "/api/auth/login"
        body = {
            "username": os.environ["JINGDI_ST_USERNAME"],
            "password": os.environ["JINGDI_ST_PASSWORD"],
        }
    else:
        path = "/api/citizen/session"
        body = {"accept_terms": True, "terms_version": terms.json()["version"]}
    answer = http.post(
        base_url + path, json=body, headers={"X-XSRFToken": xsrf}, timeout=TIMEOUT_S
    )
    answer.raise_for_status()
    return {"session": http.cookies["jingdi_session"], "xsrf": xsrf}


class SessionAuth:
    """A schemathesis auth provider holding one signed-in session."""

    def get(self, case, context) -> dict[str, str]:
        return open_session(context.operation.schema.get_base_url().rstrip("/"))

    def set(self, case, data: dict[str, str], context) -> None:
        cookies = {"jingdi_session": data["session"], "_xsrf": data["xsrf"]}
        case.cookies = {**_mapping(case.cookies), **cookies}
        case.headers = {**_mapping(case.headers), "X-XSRFToken": data["xsrf"]}


def _mapping(value) -> dict:
    # Negative cases may hold a container of the wrong type; start afresh.
    return dict(value) if isinstance(value, dict) else {}


if IDENTITY in ("staff", "citizen"):
    schemathesis.auth()(SessionAuth)
