"""Keep camera passwords out of zeep's debug log of SOAP envelopes.

zeep logs every request envelope at DEBUG (``zeep.transports``), and a
WS-Security header sent with PasswordText carries the camera's password in
clear (``sightline-console --verbose`` would write it out). A filter on that
logger masks every ``<…Password>`` element and every URL's credentials.
"""

from __future__ import annotations

import logging
import re

from device_runtime.media.redact import MASK, RedactingFilter, redact_text

#: The loggers that print SOAP envelopes.
SOAP_LOGGERS = ("zeep.transports",)

_PASSWORD_ELEMENT_RE = re.compile(r"(<(?:[\w.-]+:)?Password\b[^>]*>)(.*?)(</(?:[\w.-]+:)?Password>)", re.DOTALL)


def redact_soap(text: str) -> str:
    """``text`` with the content of every WS-Security Password element and URL password masked."""
    return redact_text(_PASSWORD_ELEMENT_RE.sub(r"\1" + MASK + r"\3", text))


class SoapPasswordFilter(RedactingFilter):
    """Rewrites a record's message (and traceback) with :func:`redact_soap`; never drops a record."""

    def redact(self, text: str) -> str:
        return redact_soap(text)


_FILTER = SoapPasswordFilter()


def guard_soap_loggers() -> None:
    """Attach the filter to zeep's envelope loggers (once; logger filters are not inherited)."""
    for name in SOAP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
