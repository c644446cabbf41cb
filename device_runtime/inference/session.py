"""One onnxruntime session per model, shared by every app and stream that uses it.

:class:`ModelSession` loads a model, checks at load that camera frames can be
fed to it and that its outputs fit a decoder (a warm-up run proves both),
and then offers:

* :meth:`ModelSession.infer`: frames in, detections in frame pixels out;
  concurrent calls from several streams are combined into batched runs when
  the model's batch dimension is dynamic (see :mod:`.batching`);
* :meth:`ModelSession.run_raw`: a dict of input arrays in, the tuple of raw
  outputs back (for Panorama-style code apps).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from device_runtime.inference.batching import BatchQueue
from device_runtime.inference.decoders import FAMILIES, DecodeParams, OutputDecoder, detect_family
from device_runtime.inference.engine_cache import plan_engine
from device_runtime.inference.errors import (
    DecoderError,
    InferenceError,
    InferenceInputError,
    ModelClosedError,
    ModelLoadError,
)
from device_runtime.inference.graph_processing import GraphDecoder, GraphProcessing, wants_graphs
from device_runtime.inference.model_file import (
    ImageInput,
    describe_load_failure,
    export_metadata,
    image_input,
    read_model,
)
from device_runtime.inference.pending import PendingInference
from device_runtime.inference.preprocess import prepare_batch
from device_runtime.inference.providers import TENSORRT, clean_ort_message, create_session
from device_runtime.inference.settings import CPU_CONCURRENT_RUNS, SessionSettings, physical_cores
from device_runtime.inference.tensors import TensorSpec, check_feeds, describe_all
from device_runtime.types import InferenceResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDescription:
    """What the API reports about a model: identity, tensors, decoder and labels."""

    name: str
    sha256: str
    size: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    decoder: str
    labels: list[str]
    input_size: tuple[int, int] | None  # (height, width) frames are letterboxed to; None for raw


# Checking a model needs no GPU: the file, its inputs and outputs are the same on
# every provider, and a TensorRT engine build can take minutes on a Jetson.
_INSPECT_SETTINGS = SessionSettings(providers=("cpu",), intra_op_threads=1, max_batch=1)


class ModelSession:
    """A loaded model, safe to call from any number of threads.

    ``model`` is a path or the model's bytes. ``decoder`` overrides the
    detected output family (one of ``decoders.FAMILIES``; "raw" skips all
    image checks and only offers :meth:`run_raw`). ``labels`` name the class
    ids; when omitted, names stored in the model by the exporter are used.
    ``input_size`` (height, width) is for models whose input size is dynamic.

    Raises :class:`ModelLoadError` (naming the model and the problem) for a
    corrupt file, an input a camera frame cannot become, or outputs no decoder
    fits.
    """

    def __init__(
        self,
        model: str | os.PathLike | bytes,
        *,
        name: str | None = None,
        labels: Sequence[str] | None = None,
        decoder: str | None = None,
        input_size: tuple[int, int] | None = None,
        settings: SessionSettings | None = None,
    ):
        self.settings = settings or SessionSettings()
        model_bytes = read_model(model, name)
        self.source = model_bytes.source
        self.name = name or (model_bytes.path.stem if model_bytes.path else self.source)
        self.sha256 = model_bytes.sha256
        self.size = model_bytes.size
        self.path = model_bytes.path
        if decoder is not None and decoder not in FAMILIES:
            raise ModelLoadError(
                f"{self.source}: unknown decoder {decoder!r}; expected one of {', '.join(FAMILIES)}"
            )
        self.engine = plan_engine(self.name, self.sha256, self.size, self.settings)
        try:
            self._load(model_bytes, labels, decoder, input_size)
        except BaseException as exc:
            if self.engine is not None:
                self.engine.finish(ok=False, reason=clean_ort_message(str(exc)))
            raise
        if self.engine is not None:
            on_tensorrt = self.active_provider == TENSORRT
            self.engine.finish(ok=on_tensorrt, reason=self.provider_choice.failures.get(TENSORRT, ""))

    @property
    def precision(self) -> str:
        """The arithmetic the model runs in: "fp16" on TensorRT with FP16 on, else "fp32"."""
        if self.engine is not None and self.active_provider == TENSORRT:
            return self.engine.key.precision
        return "fp32"

    def _load(self, model_bytes, labels, decoder, input_size) -> None:  # type: ignore[no-untyped-def]
        """Create the onnxruntime session, check the model and warm it up (see the class docs)."""
        try:
            self._session, choice = create_session(
                model_bytes.load_from,
                self._ort_options(),
                self.settings.providers,
                trt_cache_dir=self.engine.folder if self.engine else self.settings.trt_cache_dir,
                fp16=self.engine.fp16 if self.engine else self.settings.fp16,
            )
        except ModelLoadError:
            raise
        except Exception as exc:
            raise describe_load_failure(self.source, exc) from exc
        self.provider_choice = choice
        self.inputs = [TensorSpec.from_ort(node) for node in self._session.get_inputs()]
        self.outputs = [TensorSpec.from_ort(node) for node in self._session.get_outputs()]
        self.concurrent_runs = max(
            1, self.settings.concurrent_runs or (1 if choice.on_gpu else CPU_CONCURRENT_RUNS)
        )
        self._run_slots = threading.BoundedSemaphore(self.concurrent_runs)
        self._counter_lock = threading.Lock()
        self._runs = 0
        self._closed = False
        metadata = export_metadata(self._session)
        self.labels = list(labels) if labels else metadata.labels
        self.image_input: ImageInput | None = None
        self.graphs: GraphProcessing | None = None  # pre/post-processing graphs, when in use
        self._batches: BatchQueue | None = None
        if decoder == "raw":
            self._decoder = OutputDecoder("raw", self.outputs)
            self._warm_up_raw()
            return
        self.image_input = image_input(
            self.source,
            self.inputs,
            input_size,
            metadata.input_size,
            self.settings.default_input_size,
        )
        self._decoder, batchable = self._warm_up(decoder)
        self.graphs = self._graph_processing()
        fixed = self.image_input.fixed_batch
        self._batches = BatchQueue(
            self._run_images,
            capacity=self.settings.max_batch if batchable else 1,
            fixed_batch=fixed,
            max_concurrent_runs=self.concurrent_runs,
            max_wait_ms=self.settings.batch_wait_ms if fixed is None else 0.0,
        )

    @classmethod
    def inspect(
        cls,
        model: str | os.PathLike | bytes,
        *,
        name: str | None = None,
        labels: Sequence[str] | None = None,
        decoder: str | None = None,
        input_size: tuple[int, int] | None = None,
    ) -> ModelDescription:
        """Load a model on the CPU, check it as :class:`ModelSession` does, describe it, unload.

        For uploads and package validation: a model that cannot load is refused
        with :class:`ModelLoadError` before it is stored or deployed.
        """
        session = cls(
            model,
            name=name,
            labels=labels,
            decoder=decoder,
            input_size=input_size,
            settings=_INSPECT_SETTINGS,
        )
        try:
            return session.describe()
        finally:
            session.close()

    def describe(self) -> ModelDescription:
        """Identity, tensors, decoder and labels of this model, as the API reports them."""
        return ModelDescription(
            name=self.name,
            sha256=self.sha256,
            size=self.size,
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            decoder=self.decoder,
            labels=list(self.labels),
            input_size=self.image_input.size if self.image_input else None,
        )

    # ------------------------------------------------------------------ loading

    def _ort_options(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # onnxruntime's warnings are for its developers
        options.intra_op_num_threads = self.settings.intra_op_threads or physical_cores()
        options.inter_op_num_threads = 1
        spin = "1" if self.settings.cpu_spinning else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return options

    def _graph_processing(self) -> GraphProcessing | None:
        """The pre/post-processing graphs where the settings want them (see graph_processing.py)."""
        assert self.image_input is not None
        if not wants_graphs(self.settings.graph_processing, self.active_provider):
            return None
        try:
            graphs = GraphProcessing(
                self.active_provider,
                channels_first=self.image_input.channels_first,
                input_dtype=self.image_input.spec.dtype,
                family=self._decoder.family,
                output_dtype=self.outputs[0].dtype if self.outputs else np.float32,
            )
        except Exception as exc:  # an old onnxruntime without an operator: the numpy path works
            log.warning("%s: pre/post-processing stays on the CPU: %s", self.source, clean_ort_message(str(exc)))
            return None
        if graphs.decodes:
            self._decoder = GraphDecoder(self._decoder, graphs)
        log.info(
            "%s: letterbox%s run as ONNX graphs on %s",
            self.source, " and decoding" if graphs.decodes else "", graphs.provider,
        )
        return graphs

    def _warm_up(self, decoder: str | None) -> tuple[OutputDecoder, bool]:
        """Run zeros through the model: proves the input works, shows concrete output shapes."""
        assert self.image_input is not None
        batch = self.image_input.fixed_batch or 1
        outputs = self._warm_up_run(batch)
        concrete = [
            spec.with_shape(out.shape) for spec, out in zip(self.outputs, outputs, strict=True)
        ]
        for spec in concrete:
            if not spec.shape or spec.shape[0] != batch:
                raise ModelLoadError(
                    f"{self.source}: output {spec.describe()} does not start with the batch "
                    f"dimension ({batch} for an input of {list(self.image_input.shape_for(batch))})"
                )
        try:
            family = decoder or detect_family(self.inputs, concrete)
            output_decoder = OutputDecoder(family, concrete)
        except DecoderError as exc:
            raise ModelLoadError(f"{self.source}: {exc}") from exc
        self._check_labels(output_decoder, concrete)
        if self.image_input.fixed_batch is not None or self.settings.max_batch < 2:
            return output_decoder, True
        # A dynamic batch dimension is only usable if every output follows it.
        # Warming up with the largest batch also makes TensorRT build its engine
        # for the whole 1..max_batch range now, not again in the middle of a shift.
        largest = self.settings.max_batch
        try:
            outputs = self._warm_up_run(largest)
        except ModelLoadError as exc:
            log.warning("%s: runs one image at a time: %s", self.source, exc)
            return output_decoder, False
        if all(out.ndim and out.shape[0] == largest for out in outputs):
            return output_decoder, True
        log.warning(
            "%s: outputs do not follow the input batch; runs one image at a time", self.source
        )
        return output_decoder, False

    def _warm_up_run(self, batch: int) -> list[np.ndarray]:
        assert self.image_input is not None
        shape = self.image_input.shape_for(batch)
        feed = np.zeros(shape, dtype=self.image_input.spec.dtype)
        try:
            return self._run_ort({self.image_input.spec.name: feed})
        except Exception as exc:
            raise ModelLoadError(
                f"{self.source}: input {self.image_input.spec.describe()} cannot be fed a "
                f"{list(shape)} image batch ({clean_ort_message(str(exc))})"
            ) from exc

    def _warm_up_raw(self) -> None:
        # Dynamic dimensions of a raw model can mean anything (sequence lengths,
        # box counts); try 1 and accept failure: the warm-up only saves the first
        # real call its start-up cost.
        feeds = {}
        for spec in self.inputs:
            try:
                feeds[spec.name] = np.zeros([d if d > 0 else 1 for d in spec.shape], spec.dtype)
            except TypeError:
                return
        try:
            self._run_ort(feeds)
        except Exception as exc:
            log.debug(
                "%s: raw warm-up run failed (%s); first call will pay start-up", self.source, exc
            )

    def _check_labels(self, output_decoder: OutputDecoder, outputs: list[TensorSpec]) -> None:
        classes = output_decoder.num_classes([spec.shape for spec in outputs])
        if self.labels and classes is not None and len(self.labels) != classes:
            log.warning(
                "%s: %d labels for %d classes; unnamed classes are shown by number",
                self.source,
                len(self.labels),
                classes,
            )

    # ------------------------------------------------------------------ running

    def _run_ort(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        session = self._session
        if session is None:
            raise ModelClosedError(f"model {self.name!r} was unloaded")
        with self._counter_lock:
            self._runs += 1
        with self._run_slots:
            return session.run(None, dict(feeds))

    def _run_images(self, batch: np.ndarray) -> list[np.ndarray]:
        assert self.image_input is not None
        return self._run_ort({self.image_input.spec.name: batch})

    def infer(
        self,
        images: Sequence[np.ndarray],
        confidence: float = 0.25,
        class_ids: set[int] | None = None,
        *,
        iou_threshold: float | None = None,
    ) -> list[InferenceResult]:
        """Detect (or classify) in BGR frames; one result per image, boxes in frame pixels.

        ``class_ids`` keeps only those classes. Safe to call from many threads;
        concurrent calls share runs. Raises :class:`InferenceInputError` for
        frames that are not H×W×3 uint8 and :class:`InferenceError` when
        onnxruntime fails.
        """
        return self.submit(images, confidence, class_ids, iou_threshold=iou_threshold).result()

    def submit(
        self,
        images: Sequence[np.ndarray],
        confidence: float = 0.25,
        class_ids: set[int] | None = None,
        *,
        iou_threshold: float | None = None,
    ) -> PendingInference:
        """Pre-process and queue frames without waiting; :meth:`PendingInference.result` waits.

        Frames queued by several calls before anyone waits run as one batch.
        """
        self._check_open()
        if self._batches is None or self.image_input is None:
            raise InferenceInputError(
                f"model {self.name!r} is loaded with decoder 'raw': call run_raw() with its "
                f"inputs {describe_all(self.inputs)}"
            )
        if isinstance(images, np.ndarray):
            images = [images] if images.ndim in (2, 3) else list(images)
        started = time.perf_counter()
        if self.graphs is not None:
            tensors, placements = self.graphs.prepare_batch(images, self.image_input.size)
        else:
            tensors, placements = prepare_batch(
                images,
                self.image_input.size,
                self.image_input.spec.dtype,
                channels_first=self.image_input.channels_first,
            )
        preprocess_ms = (time.perf_counter() - started) * 1000.0
        params = DecodeParams(
            confidence=float(confidence),
            class_ids=frozenset(int(c) for c in class_ids) if class_ids is not None else None,
            iou_threshold=self.settings.iou_threshold
            if iou_threshold is None
            else float(iou_threshold),
            max_detections=self.settings.max_detections,
            top_k=self.settings.top_k,
            input_size=self.image_input.size,
        )
        items = self._batches.submit(tensors) if len(images) else []
        return PendingInference(
            self.name,
            self._batches,
            self._decoder,
            self.label_of,
            items,
            placements,
            params,
            preprocess_ms,
            self.settings.timeout_s,
        )

    def run_raw(self, feeds: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Run the model on ``{input name: array}`` and return its outputs in model order.

        For Panorama-style code apps. Float arrays of another float type are
        converted; a missing or unknown input name, a wrong rank or a fixed
        dimension that does not match raises :class:`InferenceInputError`.
        """
        self._check_open()
        prepared = check_feeds(self.name, self.inputs, feeds)
        try:
            return tuple(self._run_ort(prepared))
        except (ModelClosedError, InferenceInputError):
            raise
        except Exception as exc:
            raise InferenceError(f"model {self.name!r}: {clean_ort_message(str(exc))}") from exc

    # ------------------------------------------------------------------ state

    def _check_open(self) -> None:
        if self._closed:
            raise ModelClosedError(f"model {self.name!r} was unloaded")

    def close(self) -> None:
        """Unload: later calls raise :class:`ModelClosedError`; runs in progress finish."""
        self._closed = True
        if self._batches is not None:
            self._batches.fail_queued(ModelClosedError(f"model {self.name!r} was unloaded"))
        self._session = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def decoder(self) -> str:
        """The output family in use: yolov5, yolov8, end2end, ssd, classification or raw."""
        return self._decoder.family

    @property
    def active_provider(self) -> str:
        return self.provider_choice.active

    @property
    def provider_warning(self) -> str:
        """Empty, or why the session runs on a slower provider than asked for."""
        return self.provider_choice.warning

    @property
    def run_count(self) -> int:
        """onnxruntime runs so far, warm-up included (batched frames count once per run)."""
        return self._runs

    @property
    def batch_counts(self) -> tuple[int, int]:
        """(batched runs, images in them) so far: their ratio is the mean batch size."""
        if self._batches is None:
            return 0, 0
        return self._batches.run_count, self._batches.images_run

    @property
    def max_batch(self) -> int:
        """Most images one run takes (1 for models that cannot batch)."""
        return self._batches.capacity if self._batches else 1

    def label_of(self, class_id: int) -> str:
        """The class name, or the id as text where the labels do not reach."""
        return self.labels[class_id] if 0 <= class_id < len(self.labels) else str(class_id)

    def __repr__(self) -> str:
        return (
            f"ModelSession({self.name!r}, decoder={self.decoder!r}, "
            f"provider={self.active_provider!r}, sha256={self.sha256[:12]})"
        )
