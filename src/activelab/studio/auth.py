"""Annotators, their tokens, and who may call what.

Every annotator has a random token (``secrets.token_urlsafe(32)``, 256 bits); only its
SHA-256 is stored, so a leaked database gives no working token (a slow hash adds nothing
for random tokens of this length). A request is authenticated by the header
``Authorization: Bearer TOKEN`` or by the ``activelab_token`` cookie that
``GET /login?token=TOKEN`` sets.

Rules:

- no token, or an unknown one: 401;
- a token of another project in the same database: 403;
- an annotator (not an admin) on an admin route: 403;
- a cookie-authenticated POST, PUT, PATCH or DELETE without the header ``X-CSRF-Token``
  equal to the ``activelab_csrf`` cookie: 403 (double-submit CSRF protection; a request
  with a Bearer header cannot be forged by another site, so it needs no CSRF token);
- a revoked token (:func:`revoke_token`) is unknown: 401. Issuing a new token
  (:func:`issue_token`) revokes the old one.

>>> hash_token("secret") == hash_token("secret") != hash_token("other")
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activelab.studio.db import Annotator, utcnow

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "ROLES",
    "TOKEN_COOKIE",
    "Caller",
    "add_annotator",
    "caller_for_token",
    "check_csrf",
    "hash_token",
    "issue_token",
    "new_token",
    "revoke_token",
    "safe_next",
]

TOKEN_COOKIE = "activelab_token"
CSRF_COOKIE = "activelab_csrf"
CSRF_HEADER = "X-CSRF-Token"
ROLES = ("admin", "annotator")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Caller:
    """The authenticated annotator of a request.

    Attributes
    ----------
    id : int
    name : str
    role : str
        ``"admin"`` or ``"annotator"``.
    project_id : int
    via_cookie : bool
        True when the token came from the cookie (CSRF rules apply).
    """

    id: int
    name: str
    role: str
    project_id: int
    via_cookie: bool = False

    @property
    def is_admin(self) -> bool:
        """True for the admin role."""
        return self.role == "admin"


def new_token() -> str:
    """A fresh random token (43 URL-safe characters, 256 bits).

    Returns
    -------
    str
    """
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a token, hex; what the database stores.

    Parameters
    ----------
    token : str

    Returns
    -------
    str
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_annotator(
    session: Session, project_id: int, name: str, role: str, *, token: str | None = None
) -> tuple[Annotator, str]:
    """Create an annotator with a new token in the session's transaction.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    project_id : int
    name : str
        Unique within the project, 1–64 characters.
    role : {"admin", "annotator"}
    token : str, optional
        Use this token instead of a new one.

    Returns
    -------
    (Annotator, str)
        The row and the token in clear (shown once, never stored).
    """
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise ValueError(f"an annotator's name must be 1–64 characters; got {name!r}.")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}; got {role!r}.")
    taken = session.scalar(
        select(Annotator.id).where(Annotator.project_id == project_id, Annotator.name == name)
    )
    if taken is not None:
        raise LookupError(f"an annotator named {name!r} exists already; pick another name.")
    token = token or new_token()
    annotator = Annotator(project_id=project_id, name=name, role=role, token_hash=hash_token(token))
    session.add(annotator)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise LookupError(
            f"an annotator named {name!r} exists already; pick another name."
        ) from None
    return annotator, token


def caller_for_token(session: Session, token: str | None) -> Annotator | None:
    """The annotator whose token this is, in any project, or None.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    token : str or None

    Returns
    -------
    Annotator or None
    """
    if not token:
        return None
    return session.scalar(
        select(Annotator).where(
            Annotator.token_hash == hash_token(token), Annotator.revoked_at.is_(None)
        )
    )


def _person(session: Session, project_id: int, annotator_id: int) -> Annotator:
    person = session.get(Annotator, annotator_id, with_for_update=True)
    if person is None or person.project_id != project_id:
        raise LookupError(
            f"no annotator with id {annotator_id} in this project; GET /annotators lists them."
        )
    return person


def issue_token(session: Session, project_id: int, annotator_id: int) -> tuple[Annotator, str]:
    """Give an annotator a new token; the old one (revoked or not) stops working.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    project_id : int
    annotator_id : int

    Returns
    -------
    (Annotator, str)
        The row and the new token in clear (shown once, never stored).

    Raises
    ------
    LookupError
        No such annotator in the project.
    ValueError
        The annotator is a machine (the LLM labeller): nobody signs in as it.
    """
    person = _person(session, project_id, annotator_id)
    if person.role == "machine":
        raise ValueError(
            f"{person.name!r} is the LLM labeller's annotator (role machine); nobody signs "
            "in as it, so it gets no token."
        )
    token = new_token()
    person.token_hash = hash_token(token)
    person.revoked_at = None
    session.flush()
    return person, token


def revoke_token(session: Session, project_id: int, annotator_id: int) -> Annotator:
    """Revoke an annotator's token: from now on it is unknown (401).

    The stored hash is replaced by the hash of a random token nobody was given, and
    ``revoked_at`` records when. The person's answers stay; :func:`issue_token` gives
    them a new token. Revoking a revoked token changes nothing.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    project_id : int
    annotator_id : int

    Returns
    -------
    Annotator

    Raises
    ------
    LookupError
        No such annotator in the project.
    ValueError
        The person is the project's last admin with a working token (the project
        would have nobody to manage it); issue them a new token instead.
    """
    person = _person(session, project_id, annotator_id)
    if person.revoked_at is not None:
        return person
    if person.role == "admin":
        admins = session.scalar(
            select(func.count())
            .select_from(Annotator)
            .where(
                Annotator.project_id == project_id,
                Annotator.role == "admin",
                Annotator.revoked_at.is_(None),
            )
        )
        if admins <= 1:
            raise ValueError(
                f"{person.name!r} is the project's last admin with a working token; revoking "
                "it would leave nobody to manage the project. Issue a new token instead "
                f"(POST /annotators/{annotator_id}/token), or make another admin first."
            )
    person.token_hash = hash_token(new_token())
    person.revoked_at = utcnow()
    session.flush()
    return person


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirect).

    Accepted: a relative reference that starts with a single ``/`` and names no scheme
    or host. Refused: absolute URLs (``https://evil``), scheme-relative ones
    (``//evil``), backslashes (browsers read ``/\\evil`` as ``//evil``), control
    characters and whitespace.

    Parameters
    ----------
    target : str or None
        The ``next`` parameter of ``/login``.
    default : str
        Where to go otherwise.

    Returns
    -------
    str

    Examples
    --------
    >>> safe_next("/p/demo/review?x=1", "/p/demo/label")
    '/p/demo/review?x=1'
    >>> [safe_next(t, "/") for t in ("//evil.example", "https://evil.example/", "/\\\\evil")]
    ['/', '/', '/']
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return default
    if target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 33 or ord(c) == 127 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def token_from_request(request: Any) -> tuple[str | None, bool]:
    """The token of a request and whether it came from the cookie.

    The ``Authorization: Bearer`` header wins over the cookie.

    Parameters
    ----------
    request : starlette.requests.Request

    Returns
    -------
    (str or None, bool)
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(TOKEN_COOKIE)
    return (cookie, True) if cookie else (None, False)


def check_csrf(request: Any) -> bool:
    """True when a cookie-authenticated unsafe request carries the right CSRF header.

    Parameters
    ----------
    request : starlette.requests.Request

    Returns
    -------
    bool
        True for safe methods, or when ``X-CSRF-Token`` equals the ``activelab_csrf``
        cookie (compared in constant time).
    """
    if request.method.upper() not in UNSAFE_METHODS:
        return True
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), header.encode())
