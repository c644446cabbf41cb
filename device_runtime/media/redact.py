"""Keep camera credentials out of logs, states and error messages.

Camera URLs carry passwords (``rtsp://admin:secret@10.0.0.5/stream1``) and
some carry tokens in the query string. This is the one redaction both halves
use: every message the device's sources and the console's camera code build
goes through :func:`redact_url` or :func:`redact_text`, and every logger of
the sources package carries a :class:`RedactingFilter` as a second line of
defence (for text we did not build ourselves: OpenCV errors, tracebacks).

Redaction errs on the side of hiding: a password with an unescaped ``/`` or
``@`` is still hidden, at the price of sometimes masking a harmless part of an
odd URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"

# Query parameters whose values are secrets, matched case-insensitively
# (cameras take credentials as rtsp://host/live?user=admin&password=x, snapshot URLs as ?pwd=).
SECRET_QUERY_PARAMS = (
    "password", "passwd", "pass", "pwd", "token", "access_token", "secret", "key", "apikey", "api_key",
)

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)(.*)$", re.DOTALL)
# Without a well-formed scheme (``rtsp//admin:pw@host``, ``admin:pw@host/x``): anything shaped
# like user:password@ up to the last '@' of the word.
_LOOSE_USERINFO_RE = re.compile(r"(^|[/\s])([^/@:\s]*):(\S*)@")
_URL_IN_TEXT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://\S+")
_SECRET_PARAM_RE = re.compile(
    r"([?&;](?:" + "|".join(SECRET_QUERY_PARAMS) + r")=)[^&;#\s'\"]*", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """Return ``url`` with its password and secret query values replaced by ``***``.

    ``rtsp://user:pass@host/x`` becomes ``rtsp://user:***@host/x``;
    ``http://host/snap?user=a&pwd=b`` becomes ``http://host/snap?user=a&pwd=***``.
    Text without a scheme is returned unchanged unless it holds something
    shaped like ``user:password@`` (a mistyped URL), whose password is masked.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        if "@" in url:
            url = _LOOSE_USERINFO_RE.sub(r"\1\2:" + MASK + "@", url)
        return _SECRET_PARAM_RE.sub(r"\1" + MASK, url)
    prefix, rest = match.groups()
    # The last '@' ends the user info: a password may itself contain '@'.
    at = rest.rfind("@")
    if at != -1:
        userinfo, hostpart = rest[:at], rest[at + 1 :]
        user, sep, _password = userinfo.partition(":")
        if sep:
            rest = f"{user}:{MASK}@{hostpart}"
    return prefix + _SECRET_PARAM_RE.sub(r"\1" + MASK, rest)


def redact_text(text: str) -> str:
    """Redact every URL found in free text (a URL ends at the first whitespace)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)), text)


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``url`` into (url without user info, user, password), both decoded.

    Uses the same last-'@' rule as :func:`redact_url`, so a password holding
    '@' is split where the redaction splits it.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        return url, None, None
    prefix, rest = match.groups()
    at = rest.rfind("@")
    if at == -1:
        return url, None, None
    user, sep, password = rest[:at].partition(":")
    return prefix + rest[at + 1 :], unquote(user), (unquote(password) if sep else None)


def with_credentials(url: str, user: str | None, password: str | None) -> str:
    """``url`` with ``user``/``password`` put in, percent-encoded; unchanged when user is None.

    Credentials already in ``url`` are replaced. A password of None leaves
    just ``user@``.
    """
    if user is None:
        return url
    bare, _, _ = split_credentials(url)
    parts = urlsplit(bare)
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc}"))


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message and traceback redacted.

    Attach it to a logger (``get_logger`` does) or to a handler. It never
    drops a record. A subclass that hides more overrides :meth:`redact`.
    """

    def redact(self, text: str) -> str:
        """``text`` as the record shows it: every URL redacted."""
        return redact_text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter attached (once).

    Logger filters are not inherited by child loggers, so every module that
    handles camera URLs gets its logger through here.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
