"""Camera-media helpers both halves use; the console may import this package.

* :mod:`~device_runtime.media.redact`: the one URL redaction (passwords and
  secret query values), credential splitting and joining, a redacting
  logging filter.
* :mod:`~device_runtime.media.rtsp_diagnose`: one RTSP ``DESCRIBE`` that
  says why a camera did not open (refused, silent, 401, 404).
* :mod:`~device_runtime.media.ffmpeg_capture`: opening ``cv2.VideoCapture``
  with FFmpeg options safely across threads.
* :mod:`~device_runtime.media.probe`: what a test-open reports, and a
  one-frame test-open over OpenCV.

Nothing here imports the device's sources, apps or server. Only
:mod:`~device_runtime.media.redact` is imported eagerly (it is pure text
work); the others load OpenCV, so import them by module.
"""

from device_runtime.media.redact import redact_text, redact_url, split_credentials, with_credentials

__all__ = ["redact_text", "redact_url", "split_credentials", "with_credentials"]
