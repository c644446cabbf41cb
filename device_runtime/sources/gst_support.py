"""GStreamer on this device: can it be used, and which video decoder is best.

Where PyGObject comes from (the decision, and why)
--------------------------------------------------
The GStreamer backend talks to GStreamer through PyGObject (``gi``). We use
the distribution's ``python3-gi`` (Debian, Ubuntu, JetPack), not PyGObject
from PyPI:

* PyPI ships PyGObject only as source. Building it needs a compiler, meson,
  the GObject-introspection and cairo headers, and (from 3.52 on) a GLib
  newer than Debian 12's or JetPack 6's; the device .deb would have to
  compile it in postinst on a Jetson.
* The bindings are only half of it: GStreamer itself, its typelibs and the
  decoder plugins (``nvv4l2decoder`` comes with JetPack, ``nvh264dec`` with
  gst-plugins-bad, VA-API with gst-plugins-bad/intel drivers) are system
  packages anyway, and ``python3-gi`` is built against exactly those. This
  is also how NVIDIA's DeepStream Python bindings are installed.

A virtualenv does not see system packages, so set-up links *only* the
``gi`` package of the system into it (``scripts/expose_system_gi.py``, run
by ``make test``'s set-up and by the device .deb's ``make-venv.sh``): the
venv's other packages stay its own. This works when the venv runs the same
Python minor version as the system's ``python3`` (the device venv is made
with it, so it always does); otherwise the script says so and the backend
reports itself unavailable.

Absent GStreamer is not an error at import: :func:`gstreamer_status` says
why it cannot be used, automatic backend choice falls back to OpenCV, and a
camera that asks for GStreamer explicitly fails with that reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

# Decoder elements per codec, best first. Hardware decoders are tried before
# FFmpeg's software decoder; the first one present in the registry wins.
DECODER_PREFERENCE: dict[str, tuple[str, ...]] = {
    "h264": ("nvv4l2decoder", "nvh264dec", "vah264dec", "vaapih264dec", "avdec_h264"),
    "h265": ("nvv4l2decoder", "nvh265dec", "vah265dec", "vaapih265dec", "avdec_h265"),
}
SOFTWARE_DECODERS = frozenset({"avdec_h264", "avdec_h265"})
# Elements needed besides a decoder (the RTSP client, parsers, conversion, the sink).
REQUIRED_ELEMENTS = (
    "rtspsrc", "rtph264depay", "rtph265depay", "h264parse", "h265parse", "videoconvert", "appsink",
)


@dataclass(frozen=True)
class GstStatus:
    """Whether GStreamer can be used here; ``reason`` says why not (empty when it can)."""

    available: bool
    reason: str
    version: str = ""


_lock = threading.Lock()
_status: GstStatus | None = None
_modules: tuple[Any, Any, Any] | None = None


def _load() -> GstStatus:
    global _modules
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstApp", "1.0")
        gi.require_version("GstVideo", "1.0")
        from gi.repository import Gst, GstApp, GstVideo
    except ImportError:
        return GstStatus(
            False,
            "PyGObject (gi) is not importable: install python3-gi and run"
            " scripts/expose_system_gi.py for this virtualenv",
        )
    except ValueError as exc:  # require_version: a typelib is missing
        return GstStatus(
            False, f"GStreamer typelibs missing ({exc}): install gir1.2-gstreamer-1.0 and gir1.2-gst-plugins-base-1.0"
        )
    ok, _argv = Gst.init_check(None)
    if not ok:
        return GstStatus(False, "GStreamer failed to initialise (Gst.init_check returned false)")
    missing = [name for name in REQUIRED_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if missing:
        return GstStatus(
            False,
            f"GStreamer elements missing: {', '.join(missing)} (install gstreamer1.0-plugins-base,"
            " -good and -bad)",
        )
    _modules = (Gst, GstApp, GstVideo)
    return GstStatus(True, "", Gst.version_string())


def gstreamer_status() -> GstStatus:
    """Load GStreamer once (thread-safe) and say whether it is usable."""
    global _status
    with _lock:
        if _status is None:
            _status = _load()
        return _status


def gst_modules() -> tuple[Any, Any, Any]:
    """``(Gst, GstApp, GstVideo)``; only after :func:`gstreamer_status` said available."""
    status = gstreamer_status()
    if _modules is None:
        raise RuntimeError(f"GStreamer is not available: {status.reason}")
    return _modules


def available_decoders() -> list[str]:
    """The decoder elements present here, best first (empty when GStreamer is unusable)."""
    if not gstreamer_status().available:
        return []
    gst = gst_modules()[0]
    names: list[str] = []
    for preference in DECODER_PREFERENCE.values():
        for name in preference:
            if name not in names and gst.ElementFactory.find(name) is not None:
                names.append(name)
    return names


def hardware_decoder_present() -> bool:
    """Whether a hardware video decoder element is present (what automatic choice looks at)."""
    return any(name not in SOFTWARE_DECODERS for name in available_decoders())


def pick_decoder(codec: str, present: list[str], *, wanted: str = "", exclude: frozenset[str] = frozenset()) -> str:
    """The decoder for ``codec`` ("h264" or "h265") among ``present``; "" when none fits.

    ``wanted`` forces one element (it must be present and able to decode the
    codec), or is "software" for FFmpeg's decoder; ``exclude`` skips elements
    that already failed on this camera.
    """
    candidates = [n for n in DECODER_PREFERENCE.get(codec, ()) if n in present and n not in exclude]
    if wanted == "software":
        candidates = [n for n in candidates if n in SOFTWARE_DECODERS]
    elif wanted:
        return wanted if wanted in candidates else ""
    return candidates[0] if candidates else ""
