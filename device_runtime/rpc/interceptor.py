"""The one place where calls are authorised and domain errors become status codes.

Servicers stay thin: they raise ``device_runtime.errors`` exceptions and
this interceptor turns them into gRPC statuses with the exception's message.
It also refuses every method but GetInfo and Pair to callers that are not
paired (UNAUTHENTICATED), before the servicer runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

from device_runtime.errors import SightlineError
from device_runtime.security.authz import OPEN_METHODS, require_paired
from device_runtime.security.pairing import PairingManager

log = logging.getLogger(__name__)


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if context.code() is not None:
        raise exc  # already aborted (context.abort raises a bare Exception): keep that status
    if isinstance(exc, SightlineError):
        context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
    log.exception("%s failed unexpectedly", method, exc_info=exc)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method.rsplit('/', 1)[-1]}: {exc}")


class DeviceInterceptor(grpc.ServerInterceptor):
    """Pairing check plus domain-error mapping for every handler."""

    def __init__(self, pairing: PairingManager):
        self._pairing = pairing

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        needs_pairing = method not in OPEN_METHODS

        def check(context: grpc.ServicerContext) -> None:
            if needs_pairing:
                require_paired(context, self._pairing)

        if handler.unary_unary or handler.stream_unary:
            inner = handler.unary_unary or handler.stream_unary

            def unary_response(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
                try:
                    check(context)
                    return inner(request_or_iterator, context)
                except Exception as exc:
                    _abort(context, exc, method)

            factory = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.stream_unary_rpc_method_handler
            )
        else:
            inner = handler.unary_stream or handler.stream_stream

            def unary_response(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
                try:
                    check(context)
                    yield from inner(request_or_iterator, context)
                except Exception as exc:
                    _abort(context, exc, method)

            factory = (
                grpc.unary_stream_rpc_method_handler
                if handler.unary_stream
                else grpc.stream_stream_rpc_method_handler
            )
        return factory(
            unary_response,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
