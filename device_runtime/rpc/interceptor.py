"""The one place where calls are authorised and domain errors become status codes.

Servicers stay thin: they raise ``device_runtime.errors`` exceptions and
this interceptor turns them into gRPC statuses with the exception's message.
It also refuses every method but GetInfo and Pair to callers that are not
paired (UNAUTHENTICATED), before the servicer runs, and records every call
that changes the device in the audit log (``audit_rules`` says which), with
its caller and outcome, refusals included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

from device_runtime.errors import SightlineError
from device_runtime.rpc.audit_rules import RULES, HeaderTap, actor_of
from device_runtime.security.audit import Actor, AuditLog
from device_runtime.security.authz import OPEN_METHODS, peer_certificate, require_paired
from device_runtime.security.pairing import PairingManager

log = logging.getLogger(__name__)


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if context.code() is not None:
        raise exc  # already aborted (context.abort raises a bare Exception): keep that status
    if isinstance(exc, SightlineError):
        context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
    log.exception("%s failed unexpectedly", method, exc_info=exc)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method.rsplit('/', 1)[-1]}: {exc}")


def _outcome(exc: BaseException, context: grpc.ServicerContext) -> str:
    if isinstance(exc, SightlineError):
        return exc.code
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "INTERNAL"


class DeviceInterceptor(grpc.ServerInterceptor):
    """Pairing check, audit record and domain-error mapping for every handler."""

    def __init__(self, pairing: PairingManager, audit: AuditLog | None = None):
        self._pairing = pairing
        self._audit = audit

    def _caller(self, method: str, context: grpc.ServicerContext) -> Actor | None:
        """Who calls, read before the call runs (an Unpair removes the very record that names them)."""
        if method not in RULES or self._audit is None:
            return None
        try:
            return actor_of(peer_certificate(context), self._pairing, method, None, None)
        except Exception:  # an audit detail must never change the call's result
            log.exception("could not name the caller of %s for the audit log", method)
            return Actor("unknown caller")

    def _record(self, method: str, caller: Actor | None, request: Any, header: Any,
                response: Any, exc: BaseException | None, context: grpc.ServicerContext) -> None:
        rule = RULES.get(method)
        if rule is None or self._audit is None or caller is None:
            return
        actor, target = caller, ""
        try:
            if rule.action == "pair":  # the caller is a guest: name the client being paired
                actor = actor_of(None, self._pairing, method, request, response)
            target = rule.target(request, header, response)
        except Exception:  # an audit detail must never change the call's result
            log.exception("could not describe %s for the audit log", method)
        outcome = "ok" if exc is None else _outcome(exc, context)
        detail = "" if exc is None else str(exc)
        self._audit.record(rule.action, actor, target=target, outcome=outcome, detail=detail)

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
                # An upload's header is kept as its chunks pass, to name what was refused.
                tap = HeaderTap(request_or_iterator) if handler.stream_unary else None
                request = tap if tap is not None else request_or_iterator
                caller = self._caller(method, context)
                try:
                    check(context)
                    response = inner(request, context)
                except Exception as exc:
                    self._record(method, caller, request, tap and tap.header, None, exc, context)
                    _abort(context, exc, method)
                self._record(method, caller, request, tap and tap.header, response, None, context)
                return response

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
