"""Make the system's PyGObject (``gi``) importable in this virtualenv, and nothing else.

Run with the virtualenv's interpreter (``make test``'s set-up and the device
.deb's ``make-venv.sh`` do)::

    .venv/bin/python -m device_runtime.sources.gst_setup

It looks for the distribution's ``gi`` package built for this interpreter's
ABI (``gi/_gi.cpython-3XX-<arch>.so``), links just that package into a
private folder and adds the folder to the venv with a ``.pth`` file; no other
system package becomes visible. Why the system's bindings rather than
PyGObject from PyPI: see :mod:`device_runtime.sources.gst_support`. Where
none fits (no ``python3-gi``, or the venv's Python is another minor version
than the system's) it says so and exits 0: the GStreamer backend then reports
itself unavailable and cameras use OpenCV.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "sightline-system-gi.pth"
LINK_DIR = "_sightline_system_gi"


def system_gi_candidates() -> list[Path]:
    """Where distributions install PyGObject for their ``python3``."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [
        Path("/usr/lib/python3/dist-packages/gi"),  # Debian, Ubuntu, JetPack
        Path(f"/usr/lib/{version}/site-packages/gi"),  # Fedora, Arch (pure part)
        Path(f"/usr/lib64/{version}/site-packages/gi"),  # Fedora (arch-specific part)
    ]


def find_system_gi() -> Path | None:
    """The system's ``gi`` package whose extension fits this interpreter, or None."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
    for candidate in system_gi_candidates():
        if (candidate / f"_gi{suffix}").is_file():
            return candidate
    return None


def link_system_gi(site_packages: Path) -> str:
    """Expose the system ``gi`` in ``site_packages``; returns what was done, in words."""
    try:
        import gi

        if LINK_DIR not in gi.__file__:  # ours is refreshed; a gi installed otherwise is left alone
            return f"gi is already importable here ({gi.__file__}); nothing to do"
    except ImportError:
        pass
    found = find_system_gi()
    if found is None:
        wanted = sysconfig.get_config_var("EXT_SUFFIX")
        return (
            f"no system PyGObject for this Python (looked for gi/_gi{wanted} in"
            f" {', '.join(str(p) for p in system_gi_candidates())}): install python3-gi, or make the"
            " virtualenv with the system's python3; the GStreamer camera backend stays unavailable"
        )
    folder = site_packages / LINK_DIR
    folder.mkdir(exist_ok=True)
    link = folder / "gi"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(found, target_is_directory=True)
    (site_packages / PTH_NAME).write_text(f"{folder}\n", encoding="utf-8")
    return f"linked the system's gi ({found}) into {folder}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--site-packages",
        type=Path,
        default=Path(sysconfig.get_paths()["purelib"]),
        help="the virtualenv's site-packages (default: this interpreter's)",
    )
    args = parser.parse_args(argv)
    print(f"gst_setup: {link_system_gi(args.site_packages)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
