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

It is also where camera URLs are taken apart and put back together around their
credentials (:func:`split_url_password`, :func:`with_camera_credentials`), so
the rule for where a password sits in a URL is written once.
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


#: Query parameters some cameras take their password in (``rtsp://10.0.0.5/live?user=admin&pwd=x``).
QUERY_PASSWORD_PARAMS = ("password", "passwd", "pass", "pwd")


def split_url_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and that password, decoded.

    ``rtsp://admin:p%40ss@10.0.0.5/s1`` → ``("rtsp://admin@10.0.0.5/s1", "p@ss")``. A camera
    that takes it in the query keeps the parameter, empty, as the place to put it back:
    ``rtsp://10.0.0.5/live?user=admin&pwd=x`` → ``("rtsp://10.0.0.5/live?user=admin&pwd=", "x")``.
    A URL without a password comes back unchanged with ``None``.
    """
    _, user, password = split_credentials(url)
    if password is not None:
        return with_credentials(url, user, None), password
    found = _query_password(url)
    if found is None or not found[2]:
        return url, None
    start, end, value = found
    return url[:start] + url[end:], unquote(value)


def url_with_password(url: str, password: str | None) -> str:
    """``url`` with ``password`` (percent-encoded) where :func:`split_url_password` took it from:
    an emptied password parameter of the query, else after the user name; unchanged for None or
    neither."""
    if password is None:
        return url
    found = _query_password(url)
    if found is not None and not found[2]:
        start, end, _ = found
        return url[:start] + quote(password, safe="") + url[end:]
    _, user, _ = split_credentials(url)
    if user is None:
        return url
    return with_credentials(url, user, password)


def _query_password(url: str) -> tuple[int, int, str] | None:
    """Where the value of the URL's first password parameter is (start, end, the raw value), or None.

    Found in the text, not by parsing and rebuilding the query, so everything else in the URL
    (other parameters, their order and encoding) stays byte for byte as the camera's maker wrote it.
    """
    query_at = url.find("?")
    if query_at == -1:
        return None
    fragment_at = url.find("#", query_at)
    end_of_query = fragment_at if fragment_at != -1 else len(url)
    position = query_at + 1
    for pair in re.split(r"[&;]", url[query_at + 1 : end_of_query]):
        name, sep, value = pair.partition("=")
        if sep and unquote(name).lower() in QUERY_PASSWORD_PARAMS:
            start = position + len(name) + 1
            return start, start + len(value), value
        position += len(pair) + 1
    return None


def with_camera_credentials(url: str, user: str | None, password: str | None) -> str:
    """``url`` ready to open with a stored user and password: a camera whose URL has the query
    parameter :func:`split_url_password` emptied takes the password there (its user name is in
    the query too, so ``user`` is not added), any other ``user:password@`` as
    :func:`with_credentials` puts it."""
    found = _query_password(url)
    if password is not None and found is not None and not found[2]:
        return url_with_password(url, password)
    return with_credentials(url, user or None, password)


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
