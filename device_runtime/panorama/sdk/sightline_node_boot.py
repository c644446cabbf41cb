"""Start one Panorama code node inside its own process (run by the Sightline runtime, never by hand).

The runtime passes a JSON description in ``SIGHTLINE_NODE`` and one end of
a socket pair as an inherited file descriptor. This script connects
``panoramasdk`` to it, maps Panorama's absolute paths to the app's folders,
then runs the app's entry script as ``__main__`` exactly as Panorama did.
An exception that escapes the app is reported to the runtime (it shows in
health) and printed, and the process exits non-zero so it is restarted.

Path mapping: Panorama apps write to ``/opt/aws/panorama/logs`` and
``/opt/aws/panorama/storage`` and read their files under ``/panorama``.
Python's file functions (``open``, ``io.open``, the ``os`` and ``os.path``
functions that take paths, hence ``shutil``, ``logging`` file handlers and
``pathlib``) see those prefixes replaced by the per-app folders. Native code
that opens files itself (``cv2.imwrite``, ``sqlite3``) does not: such apps
should build paths from ``SIGHTLINE_STORAGE_DIR`` / ``SIGHTLINE_LOGS_DIR``,
which are set too.
"""

from __future__ import annotations

import builtins
import functools
import io
import json
import os
import sys
import traceback

_PATH_ARGS = {
    # function name → indexes of positional path arguments
    "open": (0,),
    "stat": (0,),
    "lstat": (0,),
    "listdir": (0,),
    "scandir": (0,),
    "mkdir": (0,),
    "makedirs": (0,),
    "remove": (0,),
    "unlink": (0,),
    "rmdir": (0,),
    "rename": (0, 1),
    "replace": (0, 1),
    "access": (0,),
    "chdir": (0,),
    "utime": (0,),
    "chmod": (0,),
    "truncate": (0,),
    "readlink": (0,),
    "symlink": (0, 1),
    "link": (0, 1),
}


def install_path_mapping(mapping: dict[str, str]) -> None:
    """Make Python's file functions see ``mapping``'s prefixes (absolute paths) as other folders."""
    prefixes = sorted(mapping.items(), key=lambda item: -len(item[0]))

    def translate(path):  # noqa: ANN001, ANN202
        if isinstance(path, int):
            return path
        try:
            text = os.fspath(path)
        except TypeError:
            return path
        if isinstance(text, bytes):
            decoded = text.decode(sys.getfilesystemencoding(), "surrogateescape")
            mapped = translate(decoded)
            return mapped.encode(sys.getfilesystemencoding(), "surrogateescape") if mapped != decoded else path
        for prefix, target in prefixes:
            if text == prefix or text.startswith(prefix + "/"):
                return target + text[len(prefix):]
        return path

    def wrap(function, indexes):  # noqa: ANN001, ANN202
        @functools.wraps(function)
        def mapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            args = list(args)
            for index in indexes:
                if index < len(args):
                    args[index] = translate(args[index])
            for key in ("path", "file", "src", "dst", "name"):
                if key in kwargs:
                    kwargs[key] = translate(kwargs[key])
            return function(*args, **kwargs)

        return mapped

    for name, indexes in _PATH_ARGS.items():
        if hasattr(os, name):
            setattr(os, name, wrap(getattr(os, name), indexes))
    builtins.open = io.open = wrap(io.open, (0,))
    if "pathlib" in sys.modules:  # Python 3.10 binds os functions in pathlib's accessor at import
        accessor = getattr(sys.modules["pathlib"], "_NormalAccessor", None)
        if accessor is not None:
            for name in _PATH_ARGS:
                if name == "open":  # the accessor's open is io.open, not os.open
                    setattr(accessor, name, staticmethod(io.open))
                elif hasattr(accessor, name) and hasattr(os, name):
                    setattr(accessor, name, staticmethod(getattr(os, name)))


def apply_limits(limits: dict[str, int]) -> None:
    """Set the node's own limits; soft and hard alike, so the app cannot raise them."""
    import resource

    memory = int(limits.get("memory_mb") or 0) * 1024 * 1024
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cores = int(limits.get("cpu_cores") or 0)
    if cores and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[-cores:])
    if int(limits.get("nice") or 0) > 0:
        os.nice(int(limits["nice"]))


def main() -> int:
    config = json.loads(os.environ.pop("SIGHTLINE_NODE"))
    sys.path.insert(0, config["sdk_dir"])
    install_path_mapping(config["paths"])
    import pathlib  # noqa: F401 - imported after the mapping so Python 3.10's accessor picks it up
    import runpy

    import panoramasdk
    from panoramasdk._channel import Channel

    channel = Channel(config["fd"], config["params"])
    panoramasdk._start(channel, config["inputs"], config["outputs"], config["models"])
    apply_limits(config["limits"])
    script = config["script"]
    sys.argv = [config["entry_name"]] + list(config["arguments"])
    sys.path.insert(0, os.path.dirname(script))
    os.chdir(config["src_dir"])
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            channel.send(("crash", 0, f"the app exited with status {code}"))
        return code
    except BaseException:
        text = traceback.format_exc()
        sys.stderr.write(text)
        sys.stderr.flush()
        try:
            channel.send(("crash", 0, text))
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    # The app's non-daemon threads (an HTTP server, a worker) keep running after its script returns.
    code = main()
    if code:
        sys.stdout.flush()
        os._exit(code)
    sys.exit(code)
