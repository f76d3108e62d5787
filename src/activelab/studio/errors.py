"""The one exception the studio's services raise: a message and the HTTP status it maps to."""

from __future__ import annotations

__all__ = ["StudioError"]


class StudioError(Exception):
    """A request the studio refuses, with the HTTP status the API answers.

    Parameters
    ----------
    status : int
        404 (no such thing), 403 (not yours), 409 (conflicts with what is stored), 413
        (too large) or 422 (invalid input).
    message : str
        What was wrong and what to do.

    Examples
    --------
    >>> StudioError(409, "already answered").status
    409
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
