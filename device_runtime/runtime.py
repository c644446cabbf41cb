"""Assembles a running device: identity, pairing, supervisor, TLS gRPC server, LAN advert."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc

from device_runtime import __version__, datadir_lock
from device_runtime.broadcast import LogBroadcastHandler
from device_runtime.config import DeviceConfig
from device_runtime.discovery.advertiser import Advertiser
from device_runtime.health import hardware_info
from device_runtime.metrics import MetricsServer
from device_runtime.protocol.transport import MAX_MESSAGE_BYTES
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc
from device_runtime.rpc.interceptor import DeviceInterceptor
from device_runtime.rpc.servicer import DeviceServicer
from device_runtime.security.audit import AuditLog
from device_runtime.security.identity import DeviceIdentity
from device_runtime.security.pairing import PairingManager
from device_runtime.security.secret_store import SecretStore
from device_runtime.security.tls import server_credentials
from device_runtime.sources.factory import source_opener
from device_runtime.status import API_VERSION
from device_runtime.supervisor import Supervisor
from device_runtime.update.apply import write_runtime_status
from device_runtime.update.staging import UpdateStore

log = logging.getLogger(__name__)

# Streams (health, events, logs, previews) each hold a worker thread.
MAX_WORKERS = 64


class DeviceRuntime:
    """One device: call :meth:`start`, then :meth:`stop` (or use as a context manager)."""

    def __init__(self, config: DeviceConfig, **supervisor_options: Any):
        self.config = config
        self.identity = DeviceIdentity.load_or_create(config.data_dir, config.name)
        self.pairing = PairingManager(config.data_dir, self.identity, on_code_changed=self._on_code_changed)
        # Who did what: written by the interceptor for API calls, by provisioning and updates.
        self.audit = AuditLog(config.data_dir)
        # Named secrets (camera passwords, output tokens) filled over the paired connection.
        self.secrets = SecretStore(config.data_dir)
        supervisor_options.setdefault("open_source_fn", source_opener(rtsp_backend=config.video_backend))
        self.supervisor = Supervisor(config, secrets=self.secrets, **supervisor_options)
        self.supervisor.outputs.use_secrets(self.secrets.get)
        # Device software updates: staged here, installed by the root updater (device_runtime/update).
        self.updates = UpdateStore(config.data_dir, __version__,
                                   require_signed=config.require_signed_packages)
        self.hardware = hardware_info()
        self._log_handler = LogBroadcastHandler(self.supervisor.logs)
        self._server: grpc.Server | None = None
        self._advertiser: Advertiser | None = None
        self.metrics: MetricsServer | None = None
        self.port = 0
        self._lock_fd: int | None = None

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    def start(self) -> DeviceRuntime:
        # Shared: offline provisioning and updates take it alone, so they never write under us.
        self._lock_fd = datadir_lock.hold_shared(self.config.data_dir)
        # The log stream carries the runtime's own records at the configured level,
        # whatever the host process did with the root logger.
        package_logger = logging.getLogger("device_runtime")
        package_logger.setLevel(self.config.log_level)
        package_logger.addHandler(self._log_handler)
        self.supervisor.resume()
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="rpc"),
            interceptors=[DeviceInterceptor(self.pairing, self.audit)],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
                # See console_app's CHANNEL_OPTIONS: small windows make slow viewers skip, not queue.
                ("grpc.http2.bdp_probe", 0),
            ],
            maximum_concurrent_rpcs=MAX_WORKERS - 4,
        )
        pb_grpc.add_DeviceServicer_to_server(DeviceServicer(self), server)
        self.port = server.add_secure_port(self.config.listen, server_credentials(self.identity))
        if self.port == 0:
            raise OSError(f"could not listen on {self.config.listen} (address in use or not on this machine)")
        server.start()
        self._server = server
        if self.config.advertise:
            self._advertiser = Advertiser(
                device_id=self.identity.device_id,
                name=self.config.name,
                port=self.port,
                fingerprint=self.identity.fingerprint,
                api_version=API_VERSION,
                runtime_version=__version__,
                interfaces=self.config.interfaces,
            )
            self._advertiser.start()
        # Read by the root updater to judge a new version healthy.
        write_runtime_status(self.config.data_dir, __version__, self.port)
        if self.config.metrics_listen:
            self.metrics = MetricsServer(self, self.config.metrics_listen).start()
        providers = self.supervisor.registry.providers
        log.info("device %s (%s) serving on %s; inference on %s", self.config.name,
                 self.identity.device_id, self.address, providers.active)
        return self

    def banner(self) -> str:
        return self.pairing.banner(self.config.name, self.address)

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self._advertiser is not None:
            self._advertiser.stop()
            self._advertiser = None
        if self._server is not None:
            self._server.stop(grace).wait(grace + 1)
            self._server = None
        self.supervisor.close()
        logging.getLogger("device_runtime").removeHandler(self._log_handler)
        if self._lock_fd is not None:
            datadir_lock.release(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> DeviceRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_code_changed(self, code: str) -> None:
        log.info("new pairing code: %s", code)
