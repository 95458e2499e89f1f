"""Which topics exist and who may subscribe to them.

A topic name is ``<kind>:<argument>``. Each kind registers one authorizer;
a topic whose kind is not registered is refused, like everything else that
nobody declared. Feature modules add their kinds with `topic_kind`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from server.access import Principal
from server.errors import Forbidden, Invalid

# The longest topic name accepted; ids are short, so this only stops junk.
MAX_TOPIC = 128

Authorizer = Callable[["object", Principal, str], Awaitable[bool]]
_KINDS: dict[str, Authorizer] = {}


def topic_kind(kind: str):
    """Register the authorizer for topics ``<kind>:<argument>``."""

    def register(authorizer: Authorizer) -> Authorizer:
        _KINDS[kind] = authorizer
        return authorizer

    return register


async def authorize(platform, principal: Principal, topic) -> str:
    """Return the topic if ``principal`` may subscribe, else raise."""
    if not isinstance(topic, str) or not 0 < len(topic) <= MAX_TOPIC:
        raise Invalid("A topic must be a short text.", "bad_topic")
    kind, _, argument = topic.partition(":")
    authorizer = _KINDS.get(kind)
    if authorizer is None or not argument:
        raise Forbidden("No such topic.", "topic_refused")
    if not await authorizer(platform, principal, argument):
        raise Forbidden("You may not follow this topic.", "topic_refused")
    return topic


@topic_kind("user")
async def _own_user(platform, principal: Principal, user_id: str) -> bool:
    """Personal notices: only the account (or device) itself."""
    return principal.id == user_id


@topic_kind("tasks")
async def _task_board(platform, principal: Principal, tenant_id: str) -> bool:
    """The task board of one tenant: figures change as officers sign up.
    Its own people follow it, and officers of an agency it grants "tasks"."""
    return await platform.tasks.may_follow_board(principal, tenant_id)


@topic_kind("command")
async def _command_feed(platform, principal: Principal, tenant_id: str) -> bool:
    """The command-room feed of one tenant: its commanders and admins."""
    return principal.has("command.watch") and principal.tenant_id == tenant_id
