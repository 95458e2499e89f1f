"""Authorization: who may do what, decided in this one place.

Every HTTP handler names a permission per method and every websocket message
type and topic names one too; anything unnamed is refused (deny by default).
A permission maps to the roles that hold it. Tenant data is further checked by
`require_tenant`: a principal of another tenant gets ``NotFound``, never a hint
that the document exists.
"""

from __future__ import annotations

import dataclasses

from server.errors import Forbidden, NotFound, Unauthenticated

# Roles. A staff account holds one or more; a citizen's device session holds
# only CITIZEN.
CITIZEN = "citizen"
OFFICER = "officer"
COMMANDER = "commander"
EXPERT = "expert"
ADMIN = "admin"  # an agency (tenant) administrator
PLATFORM_ADMIN = "platform_admin"

STAFF_ROLES = frozenset({OFFICER, COMMANDER, EXPERT, ADMIN, PLATFORM_ADMIN})
ALL_ROLES = STAFF_ROLES | {CITIZEN}

# Open to anyone, signed in or not.
PUBLIC = "public"
# Any valid session, staff or citizen.
SIGNED_IN = "signed_in"

PERMISSIONS: dict[str, frozenset[str]] = {
    # Reading one's own tenant: its name, stations and zones, settings.
    "tenant.read": STAFF_ROLES,
    # The officer roster with duty status and last known positions.
    "officers.read": frozenset({COMMANDER, ADMIN}),
    # Accounts: create, disable, change roles.
    "users.manage": frozenset({ADMIN}),
    # The command-room feed of a tenant.
    "command.watch": frozenset({COMMANDER, ADMIN}),
    # Onboarding tenants; platform-wide operations.
    "platform.manage": frozenset({PLATFORM_ADMIN}),
    # Onboarding an agency and correcting its territory, names and contact.
    "tenants.onboard": frozenset({PLATFORM_ADMIN}),
    # An agency's admin: its settings, stations and zones (its own only: the
    # services scope every write by the admin's tenant).
    "tenant.admin": frozenset({ADMIN}),
    # Grants (授权) to other agencies: give, list (given and received), revoke.
    "grants.manage": frozenset({ADMIN}),
    # Citizens raise, follow, cancel and rate their own alarms.
    "alarm.raise": frozenset({CITIZEN}),
    # Officers claim, decline and report progress on alarms.
    "alarm.claim": frozenset({OFFICER}),
    # The officer's own duty, position and workload.
    "officer.self": frozenset({OFFICER}),
    # The command room dispatches, reassigns and closes alarms.
    "alarm.command": frozenset({COMMANDER, ADMIN}),
    # The citizen's phone number: the assigned officer and the command room
    # of the alarm's agency only (the service checks which).
    "alarm.contact": frozenset({OFFICER, COMMANDER, ADMIN}),
    # The live feed of open alarms (map layers, GeoJSON).
    "alarms.feed": frozenset({OFFICER, COMMANDER, ADMIN}),
    # The assessment board (考核): offers, claims and arrivals per officer/station.
    "kpi.read": frozenset({COMMANDER, ADMIN}),
    # Web push: the server's public (VAPID) key, and a user's devices:
    # officers for offers, experts for invitations to consultation rooms.
    # Commanders work at the open command page, which the websocket serves.
    "push.key": STAFF_ROLES,
    "push.subscribe": frozenset({OFFICER, EXPERT}),
    # Consultation rooms: officers and commanders open them and invite; the
    # invited (experts among them) take part. Membership of the room itself
    # is checked by server.rooms, so the role alone shows nothing.
    "rooms.open": frozenset({OFFICER, COMMANDER}),
    "rooms.invite": frozenset({OFFICER, COMMANDER}),
    "rooms.take_part": frozenset({OFFICER, COMMANDER, EXPERT}),
    # The task board: commanders and admins publish and manage rosters (and
    # search officers' specialties); officers sign up; both read the board.
    "tasks.publish": frozenset({COMMANDER, ADMIN}),
    "tasks.sign_up": frozenset({OFFICER}),
    "tasks.read": frozenset({OFFICER, COMMANDER, ADMIN}),
    "view.tasks": frozenset({OFFICER, COMMANDER, ADMIN}),
    # Emergency musters (紧急集结): the command room starts, widens, reminds,
    # ends and exports them; officers answer those they were alerted to (the
    # service checks that), and read them like the command room reads its own.
    "muster.command": frozenset({COMMANDER, ADMIN}),
    "muster.answer": frozenset({OFFICER}),
    "muster.read": frozenset({OFFICER, COMMANDER, ADMIN}),
    # The audit log: an agency's admins read their agency's chain.
    "audit.read": frozenset({ADMIN, PLATFORM_ADMIN}),
    # The staff views (pages): a role that cannot use a view is not sent it.
    "view.officer": frozenset({OFFICER}),
    "view.command": frozenset({COMMANDER, ADMIN}),
    "view.expert": frozenset({EXPERT}),
    "view.admin": frozenset({ADMIN, PLATFORM_ADMIN}),
    # The expert pool: reviewing applications and suspending experts, finding
    # an expert for an incident, and an expert's own availability.
    "experts.review": frozenset({ADMIN}),
    "experts.directory": frozenset({OFFICER, COMMANDER, ADMIN}),
    "expert.self": frozenset({EXPERT}),
    "view.experts": frozenset({OFFICER, COMMANDER, ADMIN}),
}


@dataclasses.dataclass(frozen=True)
class Principal:
    """The caller behind a session: a staff account or a citizen's device."""

    kind: str  # "staff" or "citizen"
    id: str  # user id or citizen id, as text
    roles: frozenset[str]
    session_id: str  # the stored session's key (a hash, never the token)
    tenant_id: str | None = None  # None for citizens
    name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def has(self, permission: str) -> bool:
        """True when one of the principal's roles holds ``permission``."""
        return bool(self.roles & PERMISSIONS.get(permission, frozenset()))


def require(principal: Principal | None, permission: str | None) -> None:
    """Raise unless ``principal`` holds ``permission``.

    ``None`` (an action nobody declared) is always refused.
    """
    if permission == PUBLIC:
        return
    if permission is None:
        raise Forbidden("This action is not available.", "not_allowed")
    if principal is None:
        raise Unauthenticated("Please sign in first.")
    if permission == SIGNED_IN:
        return
    if permission not in PERMISSIONS:
        raise Forbidden("This action is not available.", "not_allowed")
    if not principal.has(permission):
        raise Forbidden("Your role does not allow this.", "role")


def require_tenant(principal: Principal, tenant_id: str | None) -> None:
    """Raise ``NotFound`` unless the document's tenant is the principal's own.

    Grants between tenants (federation) do not widen this check: the services
    that share (rooms, tasks, the expert directory, the command feed) ask
    `server.grants.GrantService` on every use.
    """
    if PLATFORM_ADMIN in principal.roles:
        return
    if tenant_id is None or principal.tenant_id != tenant_id:
        raise NotFound("No such item.")
