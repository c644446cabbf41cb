"""Camera passwords come out of stream URLs (user info or query) and go back where they came from."""

from __future__ import annotations

import pytest

from device_runtime.protocol.apps.specs import split_url_password, url_with_password


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
