"""Errors raised by the FeatureVault client.

Every failure the server reports becomes a :class:`FeatureVaultError` (or
one of its subclasses) carrying the server's code and message, whichever
protocol the call used: Arrow Flight (gRPC status) or Connect (JSON error).
The server's messages say what to fix — a ``PermissionDenied`` names the
columns to ask for — and never contain a feature value, a token or a raw
entity key.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = [
    "FeatureVaultError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Unauthenticated",
    "ResourceExhausted",
    "FailedPrecondition",
    "Unavailable",
    "from_flight",
    "from_connect",
]


class FeatureVaultError(Exception):
    """A call the server refused or that failed.

    Attributes:
        code: the status code, in Connect's snake_case spelling
            (``"permission_denied"``, ``"invalid_argument"``, ...), the
            same for a Flight and a Connect call.
        message: the server's message, which says what to fix.
    """

    code: str = "unknown"

    def __init__(self, message: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidArgument(FeatureVaultError):
    """The request is malformed or a row breaks a constraint; nothing changed."""

    code = "invalid_argument"


class NotFound(FeatureVaultError):
    """The view, field or entity does not exist."""

    code = "not_found"


class PermissionDenied(FeatureVaultError):
    """Policy refuses the columns (named in the message) or the purpose."""

    code = "permission_denied"


class Unauthenticated(FeatureVaultError):
    """The token is missing, unknown, expired or revoked."""

    code = "unauthenticated"


class ResourceExhausted(FeatureVaultError):
    """A rate, stream, message or batch limit was reached; the message names it."""

    code = "resource_exhausted"


class FailedPrecondition(FeatureVaultError):
    """The store is not in a state that allows the call."""

    code = "failed_precondition"


class Unavailable(FeatureVaultError):
    """The server cannot be reached, or cannot write its audit log."""

    code = "unavailable"


_BY_CODE = {
    c.code: c
    for c in (InvalidArgument, NotFound, PermissionDenied, Unauthenticated, ResourceExhausted, FailedPrecondition, Unavailable)
}

# pyarrow spells gRPC status codes in its messages ("Flight returned not
# found error, with message: ...").
_FLIGHT_WORDS = {
    "cancelled call": "canceled",
    "unknown": "unknown",
    "invalid argument": "invalid_argument",
    "timeout": "deadline_exceeded",
    "not found": "not_found",
    "already exists": "already_exists",
    "unauthorized": "permission_denied",
    "resource exhausted": "resource_exhausted",
    "precondition failed": "failed_precondition",
    "aborted": "aborted",
    "out of range": "out_of_range",
    "unimplemented": "unimplemented",
    "internal": "internal",
    "unavailable": "unavailable",
    "data loss": "data_loss",
    "unauthenticated": "unauthenticated",
}

_FLIGHT_RE = re.compile(r"Flight (?:returned )?(?P<words>[a-z ]+?)(?: error)?, with message: (?P<msg>.*)", re.S)
_DEBUG_RE = re.compile(r"gRPC client debug context: (?P<code>[A-Z_]+):")
_TAIL_RE = re.compile(r"\. (?:gRPC client debug context|Client context|Detail):.*", re.S)


def make(code: str, message: str) -> FeatureVaultError:
    """Returns the exception class for a Connect-style code, instantiated."""
    return _BY_CODE.get(code, FeatureVaultError)(message, code)


def from_flight(err: BaseException) -> FeatureVaultError:
    """Converts a pyarrow Flight exception into a FeatureVaultError."""
    text = str(err)
    code = "unknown"
    message = text
    m = _FLIGHT_RE.search(text)
    if m:
        code = _FLIGHT_WORDS.get(m.group("words"), "unknown")
        message = _TAIL_RE.sub("", m.group("msg")).strip()
    d = _DEBUG_RE.search(text)
    if d:
        code = d.group("code").lower()
    if code == "cancelled":
        code = "canceled"
    return make(code, message)


def from_connect(status: int, body: bytes) -> FeatureVaultError:
    """Converts a Connect error response (JSON body) into a FeatureVaultError."""
    import json

    try:
        doc = json.loads(body.decode("utf-8"))
        return make(str(doc.get("code", "unknown")), str(doc.get("message", "")))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return make("unknown", f"HTTP {status}: the server's answer is not a Connect error")
