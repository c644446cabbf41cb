"""Decoded GStreamer frames (I420, NV12, BGRx, BGR, padded or not) become the same BGR image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device_runtime.sources.gst_frames import FrameLayout, to_bgr

WIDTH, HEIGHT = 42, 6  # 42/2 = 21: GStreamer pads the chroma rows of such a width


@pytest.fixture
def picture() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _i420_planes(picture: np.ndarray) -> list[np.ndarray]:
    tight = cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    y_size, c_size = WIDTH * HEIGHT, (WIDTH // 2) * (HEIGHT // 2)
    y = tight[:y_size].reshape(HEIGHT, WIDTH)
    u = tight[y_size : y_size + c_size].reshape(HEIGHT // 2, WIDTH // 2)
    v = tight[y_size + c_size :].reshape(HEIGHT // 2, WIDTH // 2)
    return [y, u, v]


def _lay_out(planes: list[np.ndarray], strides: list[int]) -> tuple[np.ndarray, list[int]]:
    """Planes written row by row with ``strides`` (junk in the padding), and their offsets."""
    chunks, offsets, position = [], [], 0
    for plane, stride in zip(planes, strides, strict=True):
        rows = np.full((plane.shape[0], stride), 0xEE, np.uint8)
        rows[:, : plane.shape[1]] = plane
        chunks.append(rows.reshape(-1))
        offsets.append(position)
        position += rows.size
    return np.concatenate(chunks), offsets


def _expected(picture: np.ndarray) -> np.ndarray:
    tight = cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420)
    return cv2.cvtColor(tight, cv2.COLOR_YUV2BGR_I420)


@pytest.mark.parametrize("strides", [[42, 21, 21], [44, 24, 24]], ids=["packed", "padded"])
def test_i420_frames_become_bgr_whatever_their_row_padding(picture, strides):
    data, offsets = _lay_out(_i420_planes(picture), strides)
    image = to_bgr(data, FrameLayout("I420", WIDTH, HEIGHT, tuple(strides), tuple(offsets)))
    assert image.shape == (HEIGHT, WIDTH, 3) and image.flags.c_contiguous
    np.testing.assert_array_equal(image, _expected(picture))


@pytest.mark.parametrize("strides", [[42, 42], [48, 48]], ids=["packed", "padded"])
def test_nv12_frames_become_the_same_bgr_as_i420(picture, strides):
    y, u, v = _i420_planes(picture)
    uv = np.stack([u, v], axis=-1).reshape(HEIGHT // 2, WIDTH)
    data, offsets = _lay_out([y, uv], strides)
    image = to_bgr(data, FrameLayout("NV12", WIDTH, HEIGHT, tuple(strides), tuple(offsets)))
    np.testing.assert_array_equal(image, _expected(picture))


def test_bgrx_and_padded_bgr_frames_keep_their_pixels(picture):
    bgrx = np.concatenate([picture, np.full((HEIGHT, WIDTH, 1), 7, np.uint8)], axis=2)
    data, offsets = _lay_out([bgrx.reshape(HEIGHT, -1)], [WIDTH * 4 + 8])
    image = to_bgr(data, FrameLayout("BGRx", WIDTH, HEIGHT, (WIDTH * 4 + 8,), tuple(offsets)))
    np.testing.assert_array_equal(image, picture)
    data, offsets = _lay_out([picture.reshape(HEIGHT, -1)], [WIDTH * 3 + 2])
    image = to_bgr(data, FrameLayout("BGR", WIDTH, HEIGHT, (WIDTH * 3 + 2,), tuple(offsets)))
    np.testing.assert_array_equal(image, picture)


def test_an_unexpected_format_is_refused_by_name():
    with pytest.raises(ValueError, match="'YUY2'"):
        to_bgr(np.zeros(16, np.uint8), FrameLayout("YUY2", 2, 2, (4,), (0,)))
