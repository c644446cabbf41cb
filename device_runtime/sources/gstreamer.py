"""RTSP cameras (H.264/H.265) through GStreamer, with hardware decoding where present.

The pipeline, built per connection::

    rtspsrc ! rtph26Xdepay ! h26Xparse ! DECODER [! nvvidconv] ! videoconvert
            ! video/x-raw,format={I420,NV12,BGR,BGRx} ! appsink drop=true max-buffers=1 sync=false

``DECODER`` is the best element present for the camera's codec
(:data:`~device_runtime.sources.gst_support.DECODER_PREFERENCE`):
``nvv4l2decoder`` on a Jetson (NVDEC, frames in NVMM memory, converted by the
VIC through ``nvvidconv``), ``nvh264dec``/``nvh265dec`` on a desktop NVIDIA
GPU, ``vah264dec`` on Intel, FFmpeg's ``avdec_h264`` otherwise. The appsink
keeps only the newest frame (``drop=true max-buffers=1``), so a slow
consumer never builds a queue and latency stays at one frame. The decoder's
own YUV output passes videoconvert untouched; the frame is copied once out
of the GStreamer buffer (which returns to the decoder's pool at once) and
converted to BGR by OpenCV (:mod:`~device_runtime.sources.gst_frames`).

It behaves like the OpenCV backend (:mod:`device_runtime.sources.rtsp`):
same states and reasons, TCP first then UDP, the same capped-backoff
reconnects (from :class:`~device_runtime.sources.base.Source`), the same
DESCRIBE diagnosis when an open fails, and credentials never shown: they are
given to ``rtspsrc`` as properties, not in its location, and every reason
goes through the redaction helpers. A hardware decoder that fails on a
camera is skipped on the next reconnect (the software decoder takes over).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

# Redaction and the DESCRIBE diagnosis (their home may move; imported here only).
from device_runtime.media.redact import get_logger, redact_text, split_credentials
from device_runtime.sources.base import Capture, Source
from device_runtime.sources.errors import InvalidSourceUrl, SourceOpenError
from device_runtime.sources.gst_frames import APPSINK_FORMATS, FrameLayout, to_bgr
from device_runtime.sources.gst_support import (
    DECODER_PREFERENCE,
    SOFTWARE_DECODERS,
    available_decoders,
    gst_modules,
    gstreamer_status,
    pick_decoder,
)
from device_runtime.sources.rtsp import (
    TRANSPORTS,
    check_before_next_transport,
    check_rtsp_options,
    validate_rtsp_url,
)

log = get_logger(__name__)

_POLL_S = 0.05  # how often blocking waits look at the bus and the stop flag
# Once the camera streams, how much longer than the open timeout the first whole picture may
# take: decoding starts at a keyframe, and cameras send one every 1-10 s ("smart" codecs).
_KEYFRAME_WAIT_S = 10.0
_ENCODINGS = {"H264": "h264", "H265": "h265"}
_KNOWN_DECODERS = frozenset(n for names in DECODER_PREFERENCE.values() for n in names)


class GstRtspSource(Source):
    """An RTSP camera read with GStreamer.

    Options as :class:`~device_runtime.sources.rtsp.RtspSource` (timeouts,
    transports, backoff), plus ``decoder`` (an element name such as
    ``"avdec_h264"``, or ``"software"``; empty picks the best present) and
    ``latency_ms`` (the RTP jitter buffer; small, since the newest frame is
    what matters).
    """

    def __init__(
        self,
        url: str,
        stream_id: str,
        *,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 2.0,
        transports: tuple[str, ...] = TRANSPORTS,
        decoder: str = "",
        latency_ms: int = 100,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 1.0,
    ) -> None:
        super().__init__(
            url, stream_id, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s
        )
        validate_rtsp_url(url)
        check_rtsp_options(stream_id, tuple(transports), open_timeout_s, read_timeout_s)
        status = gstreamer_status()
        if not status.available:
            raise InvalidSourceUrl(
                f"stream {stream_id!r}: the GStreamer backend cannot be used here: {status.reason}"
            )
        if decoder and decoder != "software" and decoder not in _KNOWN_DECODERS:
            raise InvalidSourceUrl(
                f"stream {stream_id!r}: unknown decoder {decoder!r}; expected 'software' or one of"
                f" {', '.join(sorted(_KNOWN_DECODERS))}"
            )
        if not 0 <= latency_ms <= 10_000:
            raise InvalidSourceUrl(f"stream {stream_id!r}: latency_ms must be 0..10000, got {latency_ms}")
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.transports = tuple(transports)
        self.transport = ""
        self.latency_ms = latency_ms
        self.backend = "gstreamer"
        self._wanted_decoder = decoder
        self._failed_decoders: set[str] = set()
        self._gst, _app, _video = gst_modules()
        self._pipeline: Any = None
        self._sink: Any = None
        self._bus: Any = None
        self._pending: Capture | None = None
        self._layout: FrameLayout | None = None
        self._layout_key = ""  # the caps the layout was read from
        self._link_error = ""  # set by the streaming thread when the camera's stream cannot be linked
        self._video_chosen = False
        self._linked = False  # this connection's decoder is linked: the camera streams
        self._handlers: list[tuple[Any, int]] = []  # signal handlers of the open pipeline
        self._link_lock = threading.Lock()

    def _read_timeout_s(self) -> float:
        return self.read_timeout_s

    # ------------------------------------------------------------- opening

    def _open(self) -> None:
        deadline = time.monotonic() + self.open_timeout_s
        tried: list[str] = []
        last_error = ""
        for transport in self.transports:
            left = deadline - time.monotonic()
            if left < 0.05:
                break
            started = time.monotonic()
            error = self._try_transport(transport, deadline)
            if self._stop_event.is_set():
                raise SourceOpenError("stopped")
            if error is None:
                self.transport = transport
                self.transports = (transport, *[t for t in self.transports if t != transport])
                log.debug(
                    "stream %s: opened %s over %s with %s in %.0f ms",
                    self.stream_id, self.url, transport, self.decoder, (time.monotonic() - started) * 1000,
                )
                return
            tried.append(transport)
            last_error = error
            if self._link_error:  # the camera answered; its stream is what we cannot decode
                raise SourceOpenError(self._link_error)
            if self._linked:  # it streamed over this transport: another would not help
                raise SourceOpenError(redact_text(f"{self.url}: {error}"))
            check_before_next_transport(self.url, self._raw_url, self.open_timeout_s, tried, deadline)
        raise SourceOpenError(
            f"{self.url} answers but its stream could not be opened over"
            f" {' or '.join(tried or self.transports)}: {last_error or 'no frame'}"
        )

    def _try_transport(self, transport: str, deadline: float) -> str | None:
        """Start a pipeline over ``transport``; None once a frame came, else why not (torn down)."""
        self._build(transport, max(0.1, deadline - time.monotonic()))
        gst = self._gst
        self._pipeline.set_state(gst.State.PLAYING)
        extended = False
        while True:
            if self._stop_event.is_set():
                self._close()
                return "stopped"
            left = deadline - time.monotonic()
            if left <= 0 and self._linked and not extended:
                # The camera answered and streams; the decoder waits for its next keyframe.
                extended, deadline = True, deadline + _KEYFRAME_WAIT_S
                continue
            if left <= 0:
                self._close()
                if extended:
                    return f"no keyframe from {self.url} within {self.open_timeout_s + _KEYFRAME_WAIT_S:.1f} s"
                return f"no frame within {self.open_timeout_s:.1f} s"
            sample = self._sink.try_pull_sample(int(min(left, _POLL_S) * gst.SECOND))
            if sample is not None:
                self._pending = self._capture(sample)
                return None
            error = self._link_error or self._bus_error()
            if error is not None:
                self._close()
                return error

    def _build(self, transport: str, timeout_s: float) -> None:
        gst = self._gst
        bare_url, user, password = split_credentials(self._raw_url)
        pipeline = gst.Pipeline.new(f"camera-{self.stream_id}")
        src = gst.ElementFactory.make("rtspsrc", "src")
        src.set_property("location", bare_url)
        if user:
            src.set_property("user-id", user)
        if password is not None:
            src.set_property("user-pw", password)
        gst.util_set_object_arg(src, "protocols", transport)
        src.set_property("latency", self.latency_ms)
        # Never drop RTP packets: a frame missing one packet spoils every frame up to the next
        # keyframe (measured: 3 instead of 25 fps on a busy CPU). Old frames are dropped
        # whole, after decoding, by the appsink.
        src.set_property("drop-on-latency", False)
        src.set_property("tcp-timeout", int(timeout_s * 1_000_000))
        src.set_property("timeout", int(self.read_timeout_s * 1_000_000))
        convert = gst.ElementFactory.make("videoconvert", "convert")
        caps = gst.ElementFactory.make("capsfilter", "bgr")
        formats = ", ".join(f"(string){name}" for name in APPSINK_FORMATS)
        caps.set_property("caps", gst.Caps.from_string(f"video/x-raw,format={{ {formats} }}"))
        sink = gst.ElementFactory.make("appsink", "sink")
        for name, value in (
            ("drop", True), ("max-buffers", 1), ("sync", False),
            ("emit-signals", False), ("enable-last-sample", False),
        ):
            sink.set_property(name, value)
        for element in (src, convert, caps, sink):
            pipeline.add(element)
        convert.link(caps)
        caps.link(sink)
        self._link_error = ""
        self._linked = False
        self._video_chosen = False
        # No pipeline in the handlers' user data: a closure holding it would keep every closed
        # pipeline (and its decoder's buffers) alive through a cycle Python's GC cannot see.
        self._handlers = [
            (src, src.connect("select-stream", self._on_select_stream)),
            (src, src.connect("pad-added", self._on_pad_added)),
        ]
        self._pipeline, self._sink, self._bus = pipeline, sink, pipeline.get_bus()

    def _on_select_stream(self, _src: Any, _num: int, caps: Any) -> bool:
        """Take the first video stream only (audio and metadata are not set up at all)."""
        media = caps.get_structure(0).get_string("media")
        with self._link_lock:
            if media != "video" or self._video_chosen:
                return False
            self._video_chosen = True
            return True

    def _on_pad_added(self, src: Any, pad: Any) -> None:
        """Streaming thread: link depayloader, parser and decoder for the camera's codec."""
        pipeline = src.get_parent()
        try:
            self._link_decoder(pad, pipeline, pipeline.get_by_name("convert"))
        except Exception as exc:  # a GStreamer version without an element or property we use
            log.exception("stream %s: linking the decoder failed", self.stream_id)
            self._link_error = f"{self.url}: cannot set up decoding ({redact_text(str(exc))})"

    def _link_decoder(self, pad: Any, pipeline: Any, convert: Any) -> None:
        gst = self._gst
        caps = pad.get_current_caps() or pad.query_caps(None)
        encoding = (caps.get_structure(0).get_string("encoding-name") or "").upper()
        codec = _ENCODINGS.get(encoding)
        if codec is None:
            self._link_error = f"{self.url} sends {encoding or 'unknown'} video; supported: H.264, H.265"
            return
        decoder = pick_decoder(
            codec, available_decoders(), wanted=self._wanted_decoder, exclude=frozenset(self._failed_decoders)
        )
        if not decoder:
            wanted = f" {self._wanted_decoder!r}" if self._wanted_decoder else ""
            self._link_error = (
                f"{self.url}: no GStreamer decoder{wanted} for {codec.upper()} on this device"
                f" (present: {', '.join(available_decoders()) or 'none'})"
            )
            return
        chain = [
            gst.ElementFactory.make(f"rtp{codec}depay", None),
            gst.ElementFactory.make(f"{codec}parse", None),
            gst.ElementFactory.make(decoder, "decoder"),
        ]
        if decoder == "nvv4l2decoder":  # NVMM frames: the VIC copies them to system memory
            chain.append(gst.ElementFactory.make("nvvidconv", None))
        if any(element is None for element in chain):
            self._link_error = f"{self.url}: GStreamer could not create the {decoder} chain"
            return
        # Joining a camera mid-GOP: no half-decoded (green, smeared) pictures before the
        # first keyframe, and ask the camera for one instead of waiting out its GOP.
        # (rtph265depay has these only from GStreamer 1.24; output-corrupt covers it before.)
        _set_if_present(chain[0], "wait-for-keyframe", True)
        _set_if_present(chain[0], "request-keyframe", True)
        _set_if_present(chain[2], "output-corrupt", False)
        for element in chain:
            pipeline.add(element)
        for upstream, downstream in zip(chain, [*chain[1:], convert], strict=True):
            upstream.link(downstream)
        for element in reversed(chain):
            element.sync_state_with_parent()
        if pad.link(chain[0].get_static_pad("sink")) != gst.PadLinkReturn.OK:
            self._link_error = f"{self.url}: cannot link the camera's {codec.upper()} stream"
            return
        self.codec, self.decoder = codec, decoder
        self._linked = True

    def _bus_error(self) -> str | None:
        """The first error or end-of-stream waiting on the bus, as a redacted reason."""
        gst = self._gst
        message = self._bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.EOS)
        if message is None:
            return None
        if message.type == gst.MessageType.EOS:
            return "the camera ended the stream"
        error, _debug = message.parse_error()
        source = message.src.get_name() if message.src is not None else ""
        if source == "decoder" and self.decoder not in SOFTWARE_DECODERS:
            # A hardware decoder that fails here (out of sessions, unsupported profile) is
            # skipped from the next reconnect on; the next one in line takes over.
            self._failed_decoders.add(self.decoder)
            log.warning("stream %s: decoder %s failed (%s); trying another", self.stream_id,
                        self.decoder, redact_text(error.message))
        return redact_text(f"{source}: {error.message}" if source else error.message)

    # ------------------------------------------------------------- reading

    def _read(self) -> Capture | None:
        pending, self._pending = self._pending, None
        if pending is not None:
            return pending
        sink = self._sink
        if sink is None:
            return None
        gst = self._gst
        deadline = time.monotonic() + self.read_timeout_s
        while not self._stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sample = sink.try_pull_sample(int(min(left, _POLL_S) * gst.SECOND))
            if sample is not None:
                return self._capture(sample)
            error = self._bus_error()
            if error is not None:
                log.debug("stream %s: %s", self.stream_id, error)
                return None
        return None

    def _capture(self, sample: Any) -> Capture:
        """The sample as a BGR numpy image (one copy out of the buffer, then OpenCV's conversion)."""
        caps = sample.get_caps()
        structure = caps.get_structure(0)
        key = structure.to_string()
        if key != self._layout_key:
            self._layout, self._layout_key = self._layout_of(caps), key
            ok, num, den = structure.get_fraction("framerate")
            self.nominal_fps = num / den if ok and den and num else 0.0
        buffer = sample.get_buffer()
        data = np.frombuffer(buffer.extract_dup(0, buffer.get_size()), np.uint8)
        return Capture(to_bgr(data, self._layout))

    def _layout_of(self, caps: Any) -> FrameLayout:
        video = gst_modules()[2]
        if hasattr(video.VideoInfo, "new_from_caps"):  # GStreamer 1.20+
            info = video.VideoInfo.new_from_caps(caps)
        else:  # JetPack 5's GStreamer 1.16
            info = video.VideoInfo()
            info.from_caps(caps)
        planes = info.finfo.n_planes
        return FrameLayout(
            format=info.finfo.name,
            width=info.width,
            height=info.height,
            strides=tuple(info.stride[:planes]),
            offsets=tuple(info.offset[:planes]),
        )

    def _close(self) -> None:
        handlers, self._handlers = self._handlers, []
        for element, handler in handlers:
            element.disconnect(handler)
        pipeline, self._pipeline = self._pipeline, None
        self._sink = self._bus = None
        self._pending = None
        self.transport = ""
        if pipeline is not None:
            pipeline.set_state(self._gst.State.NULL)


def _set_if_present(element: Any, name: str, value: object) -> None:
    """Set a property the element may not have in this GStreamer version."""
    if element.find_property(name) is not None:
        element.set_property(name, value)
