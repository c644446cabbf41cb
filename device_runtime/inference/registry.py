"""The device's loaded models: one shared :class:`ModelSession` per model.

Apps :meth:`~ModelRegistry.acquire` a model by name and file when they start
and :meth:`~ModelRegistry.release` it when they stop; two apps using the same
model (same name and same bytes) get the same session, which is unloaded when
the last one lets go. Code apps that call a model by name use
:meth:`~ModelRegistry.get`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from device_runtime.inference.errors import ModelConflictError, ModelLoadError, UnknownModelError
from device_runtime.inference.model_file import read_model
from device_runtime.inference.providers import ProviderStatus, device_provider_status
from device_runtime.inference.session import ModelSession
from device_runtime.inference.settings import SessionSettings


@dataclass(frozen=True)
class ModelUse:
    """A loaded model and how many holders it has."""

    name: str
    sha256: str
    users: int
    session: ModelSession


@dataclass
class _Entry:
    name: str
    sha256: str
    options: tuple
    users: int = 1
    session: ModelSession | None = None
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    acquired_order: int = 0


class ModelRegistry:
    """Reference-counted shared sessions, keyed by model name and sha256. Thread-safe."""

    def __init__(
        self,
        settings: SessionSettings | None = None,
        *,
        providers: Sequence[str] | None = None,
        cache_dir: str | os.PathLike | None = None,
    ):
        """``providers`` (preference) and ``cache_dir`` (TensorRT engines) override ``settings``."""
        settings = settings or SessionSettings()
        if providers is not None:
            settings = replace(settings, providers=tuple(providers))
        if cache_dir is not None:
            settings = replace(settings, trt_cache_dir=str(cache_dir))
        self.settings = settings
        self._device_status: ProviderStatus | None = None
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._order = itertools.count(1)

    def acquire(
        self,
        name: str,
        model: str | os.PathLike | bytes,
        *,
        labels: Sequence[str] | None = None,
        decoder: str | None = None,
        input_size: tuple[int, int] | None = None,
        sha256: str | None = None,
    ) -> ModelSession:
        """The shared session for this model, loading it on first use.

        ``sha256`` may be passed when the caller already knows it (the model
        store does); otherwise the file is hashed. Concurrent first acquires
        load once. Raises :class:`ModelLoadError` when the model cannot load
        and :class:`ModelConflictError` when it is already loaded with other
        labels, decoder or input size. Pair every call with :meth:`release`.
        """
        digest = sha256 or _digest(model, name)
        options = (
            tuple(labels) if labels else None,
            decoder,
            tuple(input_size) if input_size else None,
        )
        key = (name, digest)
        with self._lock:
            entry = self._entries.get(key)
            loader = entry is None
            if entry is None:
                entry = _Entry(name, digest, options)
                self._entries[key] = entry
            else:
                if entry.options != options:
                    raise ModelConflictError(_conflict(name, digest, entry.options, options))
                entry.users += 1
            entry.acquired_order = next(self._order)
        if loader:
            try:
                entry.session = ModelSession(
                    model,
                    name=name,
                    labels=labels,
                    decoder=decoder,
                    input_size=input_size,
                    settings=self.settings,
                )
            except BaseException as exc:
                entry.error = exc
                with self._lock:
                    self._entries.pop(key, None)
                raise
            finally:
                entry.ready.set()
        else:
            entry.ready.wait()
            if entry.error is not None:
                raise ModelLoadError(str(entry.error)) from entry.error
        assert entry.session is not None
        return entry.session

    def release(self, session: ModelSession) -> None:
        """Give back one acquire; the session closes when nobody holds it any more."""
        with self._lock:
            for key, entry in self._entries.items():
                if entry.session is session:
                    entry.users -= 1
                    if entry.users > 0:
                        return
                    del self._entries[key]
                    break
            else:
                raise UnknownModelError(
                    f"model {session.name!r} (sha256 {session.sha256[:12]}) is not held in this registry"
                )
        session.close()

    def get(self, name: str) -> ModelSession:
        """The loaded session called ``name`` (the most recently acquired version).

        Raises :class:`UnknownModelError` (a ``KeyError``) naming the loaded
        models when there is none.
        """
        with self._lock:
            matches = [
                entry
                for entry in self._entries.values()
                if entry.name == name and entry.session is not None
            ]
            loaded = sorted({entry.name for entry in self._entries.values() if entry.session})
        if not matches:
            known = ", ".join(repr(n) for n in loaded) or "none"
            raise UnknownModelError(f"no model named {name!r} is loaded (loaded models: {known})")
        session = max(matches, key=lambda entry: entry.acquired_order).session
        assert session is not None
        return session

    @property
    def providers(self) -> ProviderStatus:
        """Providers that load here, the one inference uses, and the fall-back warning.

        Known before any model loads (probed once with a one-node model). When
        a loaded model fell back further than the device did (TensorRT could
        not build that graph), its warning is reported instead.
        """
        with self._lock:
            if self._device_status is None:
                self._device_status = device_provider_status(self.settings.providers)
            status = self._device_status
            sessions = [e.session for e in self._entries.values() if e.session is not None]
        for session in sessions:
            if session.provider_warning and session.provider_warning != status.warning:
                return ProviderStatus(
                    status.available, session.active_provider, session.provider_warning
                )
        return status

    def models(self) -> list[ModelUse]:
        """Every loaded model with its number of holders, by name."""
        with self._lock:
            uses = [
                ModelUse(entry.name, entry.sha256, entry.users, entry.session)
                for entry in self._entries.values()
                if entry.session is not None
            ]
        return sorted(uses, key=lambda use: (use.name, use.sha256))

    def close(self) -> None:
        """Unload every model, whoever still holds it."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            if entry.session is not None:
                entry.session.close()


def _digest(model: str | os.PathLike | bytes, name: str) -> str:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return hashlib.sha256(bytes(model)).hexdigest()
    return read_model(Path(model), name).sha256


def _conflict(name: str, digest: str, loaded: tuple, wanted: tuple) -> str:
    def describe(options: tuple) -> str:
        labels, decoder, size = options
        return (
            f"decoder {decoder or 'auto'}, {len(labels) if labels else 'no'} labels, "
            f"input size {list(size) if size else 'auto'}"
        )

    return (
        f"model {name!r} (sha256 {digest[:12]}) is already loaded with {describe(loaded)}; "
        f"asked for {describe(wanted)}. Give it a different name to load it twice"
    )
