"""HTTP and websocket endpoints: thin handlers over the services in `server`.

`route` turns a path template such as ``/api/users/{user_id}/disable`` into a
Tornado URL rule and remembers the template, so that the OpenAPI document is
generated from the same table that routes requests.
"""

from __future__ import annotations

import re

import tornado.web

_PARAM = re.compile(r"\{(\w+)\}")


def route(template: str, handler, **kwargs) -> tornado.web.URLSpec:
    """A URL rule for ``template``; ``{name}`` matches one path segment."""
    pattern = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", template)
    spec = tornado.web.URLSpec(pattern + "$", handler, kwargs or None)
    spec.template = template
    # The handler knows its route too (audit entries name it); a handler
    # class serving several routes keeps the first.
    if "route_template" not in vars(handler):
        handler.route_template = template
    return spec
