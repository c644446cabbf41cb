"""The one redaction both halves use: URLs, free text, log records keep no password."""

from __future__ import annotations

import logging

import pytest

from device_runtime.media.redact import (
    RedactingFilter,
    get_logger,
    redact_text,
    redact_url,
    split_credentials,
    split_url_password,
    url_with_password,
    with_camera_credentials,
    with_credentials,
)

#: (hostile URL, the secret it holds, what must still be shown). Each row is a way a copy of the
#: redaction once leaked: a password cut short at '/' or '@', a secret in the query string, a
#: scheme or host form the copy did not expect.
HOSTILE = [
    ("rtsp://admin:pa/ss@10.0.0.5/live", "pa/ss", "rtsp://admin:***@10.0.0.5/live"),
    ("rtsp://admin:a/b/c@10.0.0.5:554/s", "a/b/c", "rtsp://admin:***@10.0.0.5:554/s"),
    ("rtsp://admin:p@ss@10.0.0.5/live", "p@ss", "rtsp://admin:***@10.0.0.5/live"),
    ("rtsp://admin:@@@@10.0.0.5/live", "@@@", "rtsp://admin:***@10.0.0.5/live"),
    ("rtsp://admin:p%40ss%2Fw@10.0.0.5/live", "p%40ss%2Fw", "rtsp://admin:***@10.0.0.5/live"),
    ("rtsp://ad%3Amin:s3cr%3At@10.0.0.5/live", "s3cr%3At", "@10.0.0.5/live"),
    ("rtsp://admin:pa:ss@10.0.0.5/live", "pa:ss", "rtsp://admin:***@10.0.0.5/live"),
    ("rtsp://admin:pw?x#y@10.0.0.5/live", "pw?x#y", "rtsp://admin:***@10.0.0.5/live"),
    ("http://10.0.0.5/snap.jpg?user=admin&pwd=s3cret", "s3cret", "http://10.0.0.5/snap.jpg?user=admin&pwd=***"),
    ("http://10.0.0.5/snap.cgi?password=s3cret&chn=1", "s3cret", "?password=***&chn=1"),
    ("rtsp://10.0.0.5/live?PassWord=s3cret", "s3cret", "rtsp://10.0.0.5/live?PassWord=***"),
    ("rtsp://10.0.0.5/live?channel=1&token=t0k3n;pwd=s3cret", "t0k3n", "?channel=1&token=***;pwd=***"),
    ("https://cam.local/api?access_token=t0k3n#frag", "t0k3n", "https://cam.local/api?access_token=***#frag"),
    ("http://cam/snap?key=k3y-value&x=1", "k3y-value", "http://cam/snap?key=***&x=1"),
    ("rtsp://10.0.0.5/live?user=admin&password=p@ss", "p@ss", "password=***"),
    ("rtsps://admin:s3cret@cam.local:322/s", "s3cret", "rtsps://admin:***@cam.local:322/s"),
    ("RTSP://admin:s3cret@cam.local/s", "s3cret", "RTSP://admin:***@cam.local/s"),
    ("rtsp://admin:s3cret@[fe80::1%25eth0]:554/live", "s3cret", "rtsp://admin:***@[fe80::1%25eth0]:554/live"),
    ("rtsp://admin:s3cret@[2001:db8::5]/live", "s3cret", "rtsp://admin:***@[2001:db8::5]/live"),
    ("rtsp://[2001:db8::5]:554/live?pwd=s3cret", "s3cret", "rtsp://[2001:db8::5]:554/live?pwd=***"),
    ("rtsp//admin:s3cret@10.0.0.5/live", "s3cret", "admin:***@10.0.0.5/live"),
    ("admin:s3cret@10.0.0.5/live", "s3cret", "admin:***@10.0.0.5/live"),
]

#: URLs without credentials come back unchanged.
HARMLESS = [
    "rtsp://10.0.0.5:554/Streaming/Channels/101",
    "rtsp://admin@10.0.0.5/live",
    "rtsp://[2001:db8::5]:554/live",
    "rtsps://cam.local/s?channel=1&subtype=0",
    "sim://production-line?seed=7&width=640",
    "/videos/line-3.mp4",
    "",
]


@pytest.mark.parametrize(("url", "secret", "shown"), HOSTILE)
def test_redact_url_hides_the_secret_of_every_hostile_url(url, secret, shown):
    redacted = redact_url(url)
    assert secret not in redacted
    assert shown in redacted


# Free text finds URLs by their scheme; scheme-less text goes through redact_url.
@pytest.mark.parametrize(("url", "secret", "shown"), [row for row in HOSTILE if "://" in row[0]])
def test_redact_text_hides_hostile_urls_inside_messages(url, secret, shown):
    redacted = redact_text(f"opening {url} failed: 401 (tried {url})")
    assert secret not in redacted and shown in redacted


@pytest.mark.parametrize("url", HARMLESS)
def test_redact_url_leaves_urls_without_secrets_unchanged(url):
    assert redact_url(url) == url


@pytest.mark.parametrize("password", ["pa/ss", "p@ss", "p:ss", "p%40ss", "pw?x#y", "ünï cödé"])
def test_with_credentials_round_trips_any_password_and_redaction_hides_it(password):
    url = with_credentials("rtsp://10.0.0.5:554/live", "admin", password)
    assert split_credentials(url) == ("rtsp://10.0.0.5:554/live", "admin", password)
    assert redact_url(url) == "rtsp://admin:***@10.0.0.5:554/live"


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


@pytest.mark.parametrize(
    ("url", "stripped", "password"),
    [
        ("rtsp://admin:p%40ss@10.0.0.5/s1", "rtsp://admin@10.0.0.5/s1", "p@ss"),
        ("rtsp://10.0.0.5/live?user=admin&pwd=s3cr%26t&channel=1", "rtsp://10.0.0.5/live?user=admin&pwd=&channel=1",
         "s3cr&t"),
        ("rtsp://10.0.0.5:554/cam/realmonitor?channel=1&Password=x+y#top",
         "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&Password=#top", "x+y"),
        ("http://10.0.0.5/video.cgi?resolution=1080;passwd=abc", "http://10.0.0.5/video.cgi?resolution=1080;passwd=", "abc"),
    ],
)
def test_a_password_is_taken_out_and_put_back_where_it_was(url, stripped, password) -> None:
    assert split_url_password(url) == (stripped, password)
    assert url_with_password(stripped, password) == url.replace("x+y", "x%2By")  # '+' is sent encoded


@pytest.mark.parametrize(
    "url",
    ["rtsp://admin@10.0.0.5/s1", "rtsp://10.0.0.5/live?user=admin&pwd=", "rtsp://10.0.0.5/live?passage=3",
     "sim://production-line?seed=7", "test://pattern"],
)
def test_a_url_without_a_password_is_left_as_it_is(url) -> None:
    assert split_url_password(url) == (url, None)


def test_a_password_goes_after_the_user_name_unless_the_query_has_the_place_for_it() -> None:
    assert url_with_password("rtsp://admin@10.0.0.5/s1", "pw") == "rtsp://admin:pw@10.0.0.5/s1"
    assert url_with_password("rtsp://admin@10.0.0.5/s1?pwd=", "pw") == "rtsp://admin@10.0.0.5/s1?pwd=pw"
    assert url_with_password("rtsp://10.0.0.5/s1", "pw") == "rtsp://10.0.0.5/s1", "no user, no place: unchanged"
    assert url_with_password("rtsp://admin@10.0.0.5/s1", None) == "rtsp://admin@10.0.0.5/s1"


def test_a_stored_user_and_password_go_where_the_camera_takes_them() -> None:
    assert with_camera_credentials("rtsp://10.0.0.5/s1", "admin", "p@ss") == "rtsp://admin:p%40ss@10.0.0.5/s1"
    assert (with_camera_credentials("rtsp://10.0.0.5/live?user=admin&pwd=&ch=1", "", "p&w")
            == "rtsp://10.0.0.5/live?user=admin&pwd=p%26w&ch=1"), "into the query's emptied place"
    assert (with_camera_credentials("rtsp://10.0.0.5/live?user=admin&pwd=", "admin", "pw")
            == "rtsp://10.0.0.5/live?user=admin&pwd=pw"), "the query has the user name too"
    assert with_camera_credentials("rtsp://10.0.0.5/s1", "", "pw") == "rtsp://10.0.0.5/s1", "no user, no place"
    assert with_camera_credentials("rtsp://10.0.0.5/s1", "admin", None) == "rtsp://admin@10.0.0.5/s1"
