"""Builder drafts: what the engineer entered survives closing the builder, and comes back as it was."""

from __future__ import annotations

import pytest

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import CameraOption, ModelOption, Step
from console_app.core.services.app_drafts import (
    NEW_APP,
    DraftStore,
    builder_from_draft,
    builder_to_draft,
)

LINE3 = CameraOption("camera:1", "Line 3 overhead", "rtsp://10.0.0.5:554/stream1")
DOCK = CameraOption("camera:2", "Dock", "sim://production-line?seed=31")
DEMO = ModelOption("m-1", "Sightline demo", ("part", "person"), "yolov8", "ab" * 32, 1)
OTHER = ModelOption("m-2", "Other", ("car",), "yolov8", "cd" * 32, 1)
SQUARE = [(0.1, 0.5), (0.7, 0.5), (0.7, 0.95), (0.1, 0.95)]


def drawn_builder() -> AppBuilder:
    builder = AppBuilder([LINE3, DOCK], [DEMO, OTHER])
    builder.set_cameras([LINE3, DOCK])
    builder.next()
    builder.choose_model(DEMO)
    builder.next()
    builder.set_classes(["person"])
    builder.next()
    builder.add_zone("floor", SQUARE, camera_key=DOCK.key, dwell_limit_s=12)
    builder.add_line("exit", (0.8, 0.1), (0.8, 0.4), camera_key=LINE3.key, count="out")
    return builder


def test_a_kept_draft_reopens_on_the_same_step_with_the_same_app(tmp_path):
    store = DraftStore(tmp_path)
    builder = drawn_builder()
    builder.set_identity("Line 3 watch")

    store.save(NEW_APP, builder_to_draft(builder))
    again = builder_from_draft(store.load(NEW_APP), [LINE3, DOCK], [DEMO, OTHER])

    assert again.step == Step.ZONES
    assert again.manifest() == builder.manifest()
    assert [(z.name, z.camera, z.dwell_limit_s) for z in again.zones] == [("floor", "Dock", 12)]


def test_a_draft_whose_model_is_gone_reopens_where_the_model_must_be_chosen_again(tmp_path):
    draft = builder_to_draft(drawn_builder())

    again = builder_from_draft(draft, [LINE3, DOCK], [OTHER, ModelOption("m-3", "Third")])

    assert again.step == Step.MODEL and again.model is None
    assert [z.name for z in again.zones] == ["floor"]  # the drawing is kept


def test_an_unreadable_draft_is_set_aside_and_reads_as_none(tmp_path):
    store = DraftStore(tmp_path)
    (tmp_path / "app-drafts").mkdir()
    (tmp_path / "app-drafts" / "new.json").write_text("{not json")

    assert store.load(NEW_APP) is None
    assert (tmp_path / "app-drafts" / "new.unreadable").is_file()
    store.discard(NEW_APP)  # nothing there: no error
    with pytest.raises(ValueError, match="draft key '../x'"):
        store.save("../x", {})


def test_the_only_model_of_the_library_is_preselected():
    assert AppBuilder([LINE3], [DEMO]).model == DEMO
    assert AppBuilder([LINE3], [DEMO, OTHER]).model is None
