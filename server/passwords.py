"""Password hashing with Argon2id, a memory-hard algorithm.

Hashing costs tens of milliseconds of CPU on purpose; async callers run it in
an executor (`server.auth`) so the event loop keeps serving others meanwhile.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommended option
# (64 MiB, 3 passes); they take ~50 ms here, acceptable for a login.
_hasher = PasswordHasher()

# A hash of a random password, verified against when an account does not exist
# so that a login for a missing name costs the same time as a wrong password.
DUMMY_HASH = _hasher.hash("jingdi-timing-equaliser-not-a-password")


def hash_password(password: str) -> str:
    """An encoded Argon2id hash of ``password`` with its own salt."""
    return _hasher.hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """True when ``password`` matches the encoded hash."""
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False
