"""Credentials never leave the sources package: URLs, free text, log records."""

from __future__ import annotations

import logging

import pytest

from device_runtime.sources.redact import (
    RedactingFilter,
    get_logger,
    redact_text,
    redact_url,
    split_credentials,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:secret@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsps://u:p@cam.local/x", "rtsps://u:***@cam.local/x"),
        ("rtsp://admin:p@ss@10.0.0.5/x", "rtsp://admin:***@10.0.0.5/x"),
        ("rtsp://admin:pa/ss@10.0.0.5/x", "rtsp://admin:***@10.0.0.5/x"),
        ("rtsp://admin:p%40ss@10.0.0.5/x", "rtsp://admin:***@10.0.0.5/x"),
        ("rtsp://admin:@10.0.0.5/x", "rtsp://admin:***@10.0.0.5/x"),
        ("rtsp://admin@10.0.0.5/x", "rtsp://admin@10.0.0.5/x"),
        ("rtsp://10.0.0.5/x", "rtsp://10.0.0.5/x"),
        (
            "http://cam/snap.jpg?user=admin&pwd=abc&Password=def&token=t0k#frag",
            "http://cam/snap.jpg?user=admin&pwd=***&Password=***&token=***#frag",
        ),
        ("rtsp://cam/live?channel=1&pass=abc", "rtsp://cam/live?channel=1&pass=***"),
        ("/videos/line-3.mp4", "/videos/line-3.mp4"),
        ("test://pattern?seed=1", "test://pattern?seed=1"),
    ],
)
def test_redact_url_hides_passwords_and_secret_query_values(url, expected):
    assert redact_url(url) == expected


def test_redact_text_hides_every_url_in_a_message():
    text = "opening rtsp://a:pw-one@h1/x failed, falling back to 'rtsp://b:pw-two@h2/y'"
    redacted = redact_text(text)
    assert "pw-one" not in redacted and "pw-two" not in redacted
    assert "rtsp://a:***@h1/x" in redacted and "rtsp://b:***@h2/y'" in redacted


def test_split_credentials_decodes_user_and_password_and_strips_them_from_the_url():
    assert split_credentials("rtsp://ad%20min:p%40ss@cam:554/s") == (
        "rtsp://cam:554/s",
        "ad min",
        "p@ss",
    )
    assert split_credentials("rtsp://cam/s") == ("rtsp://cam/s", None, None)
    assert split_credentials("rtsp://user@cam/s") == ("rtsp://cam/s", "user", None)


def test_sources_loggers_redact_messages_and_arguments(caplog):
    logger = get_logger("device_runtime.sources.test_redact")
    caplog.set_level(logging.INFO, logger="device_runtime.sources.test_redact")
    logger.info("camera %s answered", "rtsp://admin:hunter22@10.0.0.9/live")
    logger.warning("raw text with rtsp://admin:hunter22@10.0.0.9/live inside")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "camera rtsp://admin:***@10.0.0.9/live answered",
        "raw text with rtsp://admin:***@10.0.0.9/live inside",
    ]


def test_sources_loggers_redact_tracebacks(caplog):
    logger = get_logger("device_runtime.sources.test_redact")
    caplog.set_level(logging.ERROR, logger="device_runtime.sources.test_redact")
    try:
        raise OSError("cannot open rtsp://admin:hunter22@10.0.0.9/live")
    except OSError:
        logger.exception("open failed")
    formatted = caplog.handler.format(caplog.records[0])
    assert "OSError" in formatted
    assert "hunter22" not in formatted and "admin:***@" in formatted


def test_redacting_filter_can_guard_any_handler():
    record = logging.LogRecord(
        "other.package", logging.INFO, __file__, 1, "url=%s", ("rtsp://u:pw1234@h/x",), None
    )
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "url=rtsp://u:***@h/x"


def test_get_logger_attaches_the_filter_once():
    logger = get_logger("device_runtime.sources.test_redact.once")
    get_logger("device_runtime.sources.test_redact.once")
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
