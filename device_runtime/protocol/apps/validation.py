"""Turning pydantic's validation errors into sentences a plant engineer can act on.

Every manifest model derives from :class:`StrictModel`: unknown keys are
rejected with the list of allowed ones (and a guess at the intended one), and
:func:`describe_validation_error` turns a ``ValidationError`` into one line
per problem: ``"<source>: <field path>: <what is wrong, what was given>"``.
Validators that check several fields at once raise :class:`FieldProblems` so
that each problem still points at its own field.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

Loc = tuple[Any, ...]


class FieldProblems(ValueError):
    """Raised from a validator to report problems at paths *below* the field being validated.

    ``problems`` is a list of ``(relative_loc, message)``; the loc is joined to
    the validator's own location when the error is described.
    """

    def __init__(self, problems: Sequence[tuple[Loc, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(format_loc(loc) + ": " + msg for loc, msg in self.problems))


class StrictModel(BaseModel):
    """Base of every manifest model: immutable, and unknown keys are an error that names them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Keys an earlier schema had here, with where they went (said instead of a guess).
    moved_fields: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        # pydantic's own extra="forbid" error says only "Extra inputs are not
        # permitted"; users mistype keys, so name the allowed ones instead.
        if isinstance(data, dict):
            allowed = [field.alias or name for name, field in cls.model_fields.items()]
            unknown = [key for key in data if key not in allowed]
            if unknown:
                raise ValueError(_unknown_fields_message(unknown, allowed, cls.moved_fields))
        return data


def _unknown_fields_message(
    unknown: Sequence[Any], allowed: Sequence[str], moved: dict[str, str] | None = None
) -> str:
    moved_here = [key for key in unknown if moved and key in moved]
    if moved_here:
        return "; ".join(f"'{key}' {moved[key]}" for key in moved_here)  # type: ignore[index]
    parts = []
    for key in unknown:
        guess = difflib.get_close_matches(str(key), allowed, n=1)
        parts.append(f"'{key}'" + (f" (did you mean '{guess[0]}'?)" if guess else ""))
    noun = "unknown field" if len(unknown) == 1 else "unknown fields"
    return f"{noun} {', '.join(parts)}; allowed fields: {', '.join(allowed)}"


def format_loc(loc: Iterable[Any]) -> str:
    """``("params", "zones", 0, "points")`` → ``"params.zones[0].points"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def show_value(value: Any, limit: int = 60) -> str:
    """A short rendering of a user's value for an error message: strings in single quotes, the rest as JSON."""
    if isinstance(value, str):
        text = f"'{value}'"
        return text if len(text) <= limit else text[: limit - 2] + "…'"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_type_name(value: Any) -> str:
    """The JSON name of a value's type, for "expected a list, got an object"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return f"the string {show_value(value)}"
    if isinstance(value, (int, float)):
        return f"the number {show_value(value)}"
    return type(value).__name__


_EXPECTED = {
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "dict_type": "a JSON object",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "a string",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def describe_error(error: dict[str, Any]) -> list[tuple[Loc, str]]:
    """One pydantic error dict → ``[(loc, sentence)]`` (several when a validator reported several)."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        if isinstance(cause, FieldProblems):
            return [(loc + tuple(sub), msg) for sub, msg in cause.problems]
        return [(loc, str(cause) if cause is not None else error.get("msg", ""))]
    if kind == "missing":
        return [(loc, "required field is missing")]
    if kind in _EXPECTED:
        return [(loc, f"expected {_EXPECTED[kind]}, got {json_type_name(given)}")]
    if kind in ("too_short", "too_long"):
        which = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        return [(loc, f"needs {which} {limit} item(s), got {ctx.get('actual_length')}")]
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return [(loc, "must not be empty")]
    if kind == "literal_error":
        return [(loc, f"must be {ctx.get('expected')}, got {show_value(given)}")]
    if kind == "extra_forbidden":
        return [(loc, "unknown field")]
    # Generic: pydantic says "Input should be greater than 0"; say "must be
    # greater than 0, got -1".
    message = str(error.get("msg", kind))
    for prefix in ("Input should", "Value should", "String should", "List should"):
        if message.startswith(prefix):
            message = "must" + message[len(prefix) :]
            break
    return [(loc, f"{message}, got {show_value(given)}")]


def describe_validation_error(error: ValidationError, source: str, prefix: Loc = ()) -> list[str]:
    """Every problem in ``error`` as ``"<source>: <path>: <problem>"``, in pydantic's order."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        for loc, message in describe_error(item):
            path = format_loc(prefix + loc)
            lines.append(f"{source}: {path}: {message}" if path else f"{source}: {message}")
    return lines
