"""Frames queued for inference, and turning their raw outputs into results."""

from __future__ import annotations

import time
from collections.abc import Callable

from device_runtime.inference.batching import BatchItem, BatchQueue
from device_runtime.inference.decoders import DecodeParams, OutputDecoder
from device_runtime.inference.errors import InferenceError, ModelClosedError
from device_runtime.inference.preprocess import Letterbox, to_original
from device_runtime.inference.providers import clean_ort_message
from device_runtime.types import Detection, InferenceResult


class PendingInference:
    """Frames queued by :meth:`ModelSession.submit`; :meth:`result` waits and decodes."""

    def __init__(
        self,
        model_name: str,
        batches: BatchQueue,
        output_decoder: OutputDecoder,
        label_of: Callable[[int], str],
        items: list[BatchItem],
        placements: list[Letterbox],
        params: DecodeParams,
        preprocess_ms: float,
        timeout_s: float,
    ):
        self._model_name = model_name
        self._batches = batches
        self._decoder = output_decoder
        self._label_of = label_of
        self._timeout_s = timeout_s
        self._items = items
        self._placements = placements
        self._params = params
        self._preprocess_ms = preprocess_ms
        self._results: list[InferenceResult] | None = None

    def result(self, timeout: float | None = None) -> list[InferenceResult]:
        """Wait for the frames' runs (running queued batches meanwhile) and decode them."""
        if self._results is not None:
            return self._results
        wait = self._timeout_s if timeout is None else timeout
        self._batches.wait(self._items, timeout=wait)
        results = []
        per_image_ms = self._preprocess_ms / max(1, len(self._items))
        for item, placement in zip(self._items, self._placements, strict=True):
            error = item.error
            if error is not None:
                # A fresh exception per caller: the run's error is shared by the whole batch.
                if isinstance(error, (InferenceError, ModelClosedError)):
                    raise type(error)(str(error)) from error
                raise InferenceError(
                    f"model {self._model_name!r}: {clean_ort_message(str(error))}"
                ) from error
            results.append(self._decode(item, placement, per_image_ms))
        self._results = results
        return results

    def _decode(
        self, item: BatchItem, placement: Letterbox, preprocess_ms: float
    ) -> InferenceResult:
        started = time.perf_counter()
        assert item.outputs is not None
        output_decoder = self._decoder
        detections: list[Detection] = []
        classes: list[tuple[int, float]] = []
        if output_decoder.is_detector:
            decoded = output_decoder.detections(item.outputs, self._params)
            boxes = to_original(decoded.boxes, placement)
            rows = zip(
                boxes.tolist(), decoded.scores.tolist(), decoded.class_ids.tolist(), strict=True
            )
            for (x1, y1, x2, y2), score, class_id in rows:
                detections.append(
                    Detection(x1, y1, x2, y2, score, class_id, self._label_of(class_id))
                )
        else:
            classes = output_decoder.classes(item.outputs, self._params)
        timings = {
            "preprocess": preprocess_ms,
            "queue": max(0.0, (item.started_at - item.queued_at) * 1000.0),
            "inference": item.run_ms,
            "postprocess": (time.perf_counter() - started) * 1000.0,
        }
        return InferenceResult(detections, timings, classes)
