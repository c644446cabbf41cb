"""Letterboxing frames into model tensors and mapping boxes back to frame pixels."""

from __future__ import annotations

import numpy as np
import pytest

from device_runtime.inference.errors import InferenceInputError
from device_runtime.inference.preprocess import (
    PAD_VALUE,
    Letterbox,
    letterbox,
    prepare_batch,
    to_original,
)
from tests.device_runtime.inference.helpers import make_frame


def test_wide_frame_is_scaled_to_the_width_and_padded_grey_above_and_below():
    frame = make_frame(480, 640, (10, 20, 30))

    picture, placement = letterbox(frame, (320, 320))

    assert placement == Letterbox(scale=0.5, pad_x=0, pad_y=40, width=640, height=480)
    assert (picture[:40] == PAD_VALUE).all() and (picture[280:] == PAD_VALUE).all()
    assert (picture[40:280] == (10, 20, 30)).all()


def test_tall_frame_is_padded_left_and_right():
    frame = make_frame(640, 320, (1, 2, 3))

    picture, placement = letterbox(frame, (320, 320))

    assert (placement.scale, placement.pad_x, placement.pad_y) == (0.5, 80, 0)
    assert (picture[:, :80] == PAD_VALUE).all() and (picture[:, 240:] == PAD_VALUE).all()
    assert (picture[:, 80:240] == (1, 2, 3)).all()


def test_small_frame_is_scaled_up_to_fill_the_input():
    _, placement = letterbox(make_frame(100, 200), (320, 640))

    assert (placement.scale, placement.pad_x, placement.pad_y) == (3.2, 0, 0)


def test_boxes_map_back_to_the_original_frame_through_the_letterbox():
    placement = Letterbox(scale=0.5, pad_x=0, pad_y=40, width=640, height=480)
    box_in_frame = np.array([[100.0, 60.0, 300.0, 400.0]])
    box_in_input = box_in_frame * 0.5 + [0, 40, 0, 40]

    assert to_original(box_in_input, placement) == pytest.approx(box_in_frame)


def test_mapped_boxes_are_clipped_to_the_frame():
    placement = Letterbox(scale=0.5, pad_x=0, pad_y=40, width=640, height=480)

    mapped = to_original(np.array([[-10.0, 0.0, 330.0, 320.0]]), placement)

    assert mapped.tolist() == [[0.0, 0.0, 640.0, 480.0]]


def test_batch_tensor_is_rgb_channels_first_scaled_to_unit_range():
    blue, red = make_frame(480, 640, (255, 0, 0)), make_frame(240, 320, (0, 0, 255))

    tensor, placements = prepare_batch([blue, red], (320, 320))

    assert tensor.shape == (2, 3, 320, 320) and tensor.dtype == np.float32
    assert tensor.flags.c_contiguous
    centre = tensor[:, :, 160, 160]
    assert centre.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert tensor[0, :, 0, 0] == pytest.approx([PAD_VALUE / 255.0] * 3)
    assert [p.pad_y for p in placements] == [40, 40]


def test_batch_tensor_follows_the_model_input_type_and_layout():
    frame = make_frame(320, 320, (0, 128, 255))

    half, _ = prepare_batch([frame], (320, 320), np.float16)
    pixels, _ = prepare_batch([frame], (320, 320), np.uint8)
    channels_last, _ = prepare_batch([frame], (320, 320), channels_first=False)

    assert half.dtype == np.float16 and half[0, :, 5, 5].tolist() == [
        1.0,
        pytest.approx(0.502, abs=1e-3),
        0.0,
    ]
    assert pixels.dtype == np.uint8 and pixels[0, :, 5, 5].tolist() == [255, 128, 0]
    assert channels_last.shape == (1, 320, 320, 3)
    assert channels_last[0, 5, 5].tolist() == pytest.approx([1.0, 128 / 255, 0.0])


def test_grey_and_bgra_frames_are_converted_to_bgr():
    grey = np.full((10, 10), 77, np.uint8)
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[..., 2] = 255

    tensor, _ = prepare_batch([grey, bgra], (10, 10), np.uint8)

    assert tensor[0, :, 5, 5].tolist() == [77, 77, 77]
    assert tensor[1, :, 5, 5].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            np.zeros((10, 10, 2), np.uint8),
            r"image 1: expected shape H×W×3 \(BGR\), got \(10, 10, 2\)",
        ),
        (np.zeros((10, 10, 3), np.float32), "image 1: expected dtype uint8"),
        ([[0, 0, 0]], "image 1: expected a numpy array"),
    ],
)
def test_frames_that_are_not_bgr_pictures_are_rejected_naming_which(frame, message):
    with pytest.raises(InferenceInputError, match=message):
        prepare_batch([make_frame(10, 10), frame], (32, 32))
