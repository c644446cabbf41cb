"""Errors of the apps package.

Every one of them is a subclass of a root in :mod:`device_runtime.errors`, so
the API's one interceptor maps it to a gRPC status without knowing this
package.
"""

from __future__ import annotations

from collections.abc import Sequence

from device_runtime.errors import FailedPrecondition, InvalidArgument, NotFound


class ManifestError(InvalidArgument):
    """A manifest or a parameter patch is malformed.

    ``problems`` holds one sentence per problem, each naming the source, the
    field path and what was expected, e.g.
    ``"app.json: params.zones[0].points: zone 'dock' needs at least 3 points, got 2"``.
    ``str(error)`` is those sentences joined by newlines.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems) or ["invalid manifest"]
        super().__init__("\n".join(self.problems))


class UnsupportedAppKind(FailedPrecondition):
    """The manifest's kind is known, but this runtime cannot run it (no logic registered)."""


class UnknownCamera(NotFound):
    """A camera id that the app's manifest does not declare."""
