"""Whole-number query parameters of the synthetic source URLs (``sim://``, ``test://``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from device_runtime.sources.errors import InvalidSourceUrl


def int_params(url: str, query: str, limits: dict[str, tuple[int, int, int]]) -> dict[str, int]:
    """The parameters in ``query``, checked against ``limits`` (name -> (default, minimum, maximum)).

    Unknown, repeated, non-numeric or out-of-range parameters raise
    :class:`InvalidSourceUrl` naming ``url``, the parameter and what was expected.
    Parameters left out are left out: the caller's defaults apply.
    """
    values: dict[str, int] = {}
    for name, raw in parse_qsl(query, keep_blank_values=True):
        if name not in limits:
            raise InvalidSourceUrl(f"{url}: unknown parameter {name!r}; expected one of {', '.join(limits)}")
        if name in values:
            raise InvalidSourceUrl(f"{url}: parameter {name!r} is given twice")
        _default, low, high = limits[name]
        try:
            value = int(raw)
        except ValueError:
            raise InvalidSourceUrl(f"{url}: {name}={raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise InvalidSourceUrl(f"{url}: {name}={value} is outside {low}..{high}")
        values[name] = value
    return values
