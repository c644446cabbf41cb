"""Keep camera credentials out of logs, states and error messages.

Camera URLs carry passwords (``rtsp://admin:secret@10.0.0.5/stream1``) and
some carry tokens in the query string. Every message the sources package
produces goes through :func:`redact_url` or :func:`redact_text`, and every
logger of the package carries a :class:`RedactingFilter` as a second line of
defence (for text we did not build ourselves: OpenCV errors, tracebacks).

Redaction errs on the side of hiding: a password with an unescaped ``/`` or
``@`` is still hidden, at the price of sometimes masking a harmless part of an
odd URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

MASK = "***"

# Query parameters whose values are secrets, matched case-insensitively.
SECRET_QUERY_PARAMS = ("password", "passwd", "pass", "pwd", "token", "secret")

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)(.*)$", re.DOTALL)
_URL_IN_TEXT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://\S+")
_SECRET_PARAM_RE = re.compile(
    r"([?&;](?:" + "|".join(SECRET_QUERY_PARAMS) + r")=)[^&;#\s'\"]*", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """Return ``url`` with its password and secret query values replaced by ``***``.

    ``rtsp://user:pass@host/x`` becomes ``rtsp://user:***@host/x``;
    ``http://host/snap?user=a&pwd=b`` becomes ``http://host/snap?user=a&pwd=***``.
    Text without a scheme (a file path) is returned unchanged.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        return url
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


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message and traceback redacted.

    Attach it to a logger (``get_logger`` does) or to a handler. It never
    drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter attached (once).

    Logger filters are not inherited by child loggers, so every module of the
    package gets its logger through here.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
