from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from device_runtime.store.errors import ChecksumMismatch, InvalidName, ModelInUse
from device_runtime.store.models import ModelStore
from device_runtime.store.uploads import receive_upload
from tests.device_runtime.store.archives import tree_listing

YOLO = os.urandom(300_000)
YOLO_SHA = hashlib.sha256(YOLO).hexdigest()
SSD = os.urandom(200_000)
SSD_SHA = hashlib.sha256(SSD).hexdigest()


def nobody_uses(name: str) -> list[str]:
    return []


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "root")


@pytest.fixture
def model_file(tmp_path: Path):
    def write(data: bytes, name: str = "model.onnx") -> Path:
        path = tmp_path / "incoming" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path

    return write


def blob_names(store: ModelStore) -> list[str]:
    return tree_listing(store.root / "models" / "blobs")


def test_add_stores_the_bytes_by_digest_and_leaves_the_callers_file(
    store: ModelStore, model_file
) -> None:
    source = model_file(YOLO)

    model = store.add(source, "yolov8n", ["person", "helmet"], "yolov8", YOLO_SHA)

    assert model.name == "yolov8n"
    assert model.sha256 == YOLO_SHA
    assert model.size == len(YOLO)
    assert model.path == store.root / "models" / "blobs" / f"{YOLO_SHA}.onnx"
    assert model.path.read_bytes() == YOLO
    assert model.labels == ("person", "helmet")
    assert model.decoder == "yolov8"
    assert model.added_at > 0
    assert source.read_bytes() == YOLO
    assert store.get("yolov8n") == model
    assert store.list() == [model]


def test_an_upload_is_received_into_staging_and_moved_into_the_store(store: ModelStore) -> None:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(YOLO), 64 * 1024):
            yield YOLO[start : start + 64 * 1024]

    upload = receive_upload(len(YOLO), YOLO_SHA, chunks(), store.staging_dir, 10**7, label="model")

    model = store.add(upload, "yolov8n", [], None, YOLO_SHA, move=True)

    assert not upload.exists()
    assert model.path.read_bytes() == YOLO
    assert tree_listing(store.staging_dir) == []


def test_add_refuses_bytes_that_do_not_match_the_declared_digest(
    store: ModelStore, model_file
) -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        store.add(model_file(YOLO), "yolov8n", [], None, SSD_SHA)

    assert str(caught.value) == (
        f"model file model.onnx has sha256 {YOLO_SHA}, not the declared {SSD_SHA}"
    )
    assert store.list() == []
    assert blob_names(store) == []


def test_the_same_content_under_two_names_is_stored_once(store: ModelStore, model_file) -> None:
    store.add(model_file(YOLO), "yolo-a", [], None, YOLO_SHA)
    store.add(model_file(YOLO), "yolo-b", ["x"], None, YOLO_SHA, move=True)

    assert [m.name for m in store.list()] == ["yolo-a", "yolo-b"]
    assert blob_names(store) == [f"{YOLO_SHA}.onnx"]


def test_re_adding_a_name_points_it_at_the_new_content_and_the_old_blob_is_collected(
    store: ModelStore, model_file
) -> None:
    store.add(model_file(YOLO), "detector", ["person"], "yolov8", YOLO_SHA)

    updated = store.add(model_file(SSD), "detector", ["car"], "ssd", SSD_SHA)

    assert store.get("detector") == updated
    assert updated.path.read_bytes() == SSD
    assert store.collect_garbage() == [YOLO_SHA]
    assert blob_names(store) == [f"{SSD_SHA}.onnx"]


def test_remove_refuses_a_model_that_apps_use(store: ModelStore, model_file) -> None:
    store.add(model_file(YOLO), "yolo", [], None, YOLO_SHA)
    asked: list[str] = []

    def used_by(name: str) -> list[str]:
        asked.append(name)
        return ["line3", "dock"]

    with pytest.raises(ModelInUse) as caught:
        store.remove("yolo", in_use_by=used_by)

    assert str(caught.value) == (
        "model 'yolo' is used by app(s) dock, line3; stop or remove them first"
    )
    assert isinstance(caught.value, FailedPrecondition)
    assert asked == ["yolo"]
    assert store.get("yolo").path.exists()


def test_remove_deletes_the_blob_only_when_no_other_name_points_to_it(
    store: ModelStore, model_file
) -> None:
    store.add(model_file(YOLO), "yolo-a", [], None, YOLO_SHA)
    store.add(model_file(YOLO), "yolo-b", [], None, YOLO_SHA)

    store.remove("yolo-a", in_use_by=nobody_uses)
    assert blob_names(store) == [f"{YOLO_SHA}.onnx"]

    store.remove("yolo-b", in_use_by=nobody_uses)
    assert blob_names(store) == []
    assert ModelStore(store.root).list() == []


def test_unknown_models_are_not_found_with_the_known_names_listed(
    store: ModelStore, model_file
) -> None:
    with pytest.raises(NotFound, match="model 'yolo' not found; known models: none"):
        store.get("yolo")
    store.add(model_file(YOLO), "ssd", [], None, YOLO_SHA)
    with pytest.raises(NotFound, match="model 'yolo' not found; known models: ssd"):
        store.remove("yolo", in_use_by=nobody_uses)


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65, "with space", "_index"])
def test_model_names_that_cannot_be_file_names_are_refused(
    store: ModelStore, model_file, name: str
) -> None:
    with pytest.raises(InvalidName, match="model name .* is not allowed"):
        store.add(model_file(YOLO), name, [], None, YOLO_SHA)
    assert blob_names(store) == []


@pytest.mark.parametrize(
    ("labels", "message"),
    [("person", "must be a list of strings"), (["ok", "two\nlines"], "label 1 of model 'm'")],
)
def test_labels_must_be_a_list_of_one_line_strings(
    store: ModelStore, model_file, labels, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        store.add(model_file(YOLO), "m", labels, None, YOLO_SHA)


def test_models_survive_reopening(store: ModelStore, model_file) -> None:
    store.add(model_file(YOLO), "yolo", ["person"], "", YOLO_SHA)
    store.add(model_file(SSD), "ssd", ["car", "bus"], "ssd", SSD_SHA)

    reopened = ModelStore(store.root)

    assert reopened.list() == store.list()
    assert reopened.get("yolo").decoder is None
    assert reopened.warnings == []


def test_open_deletes_blobs_and_temp_files_a_crash_left_unindexed(
    store: ModelStore, model_file
) -> None:
    store.add(model_file(YOLO), "yolo", [], None, YOLO_SHA)
    blobs = store.root / "models" / "blobs"
    (blobs / f"{SSD_SHA}.onnx").write_bytes(SSD)  # written, but the index never was
    (blobs / f".{SSD_SHA}.onnx.a1b2.tmp").write_bytes(SSD[:100])

    reopened = ModelStore(store.root)

    assert blob_names(reopened) == [f"{YOLO_SHA}.onnx"]
    assert [m.name for m in reopened.list()] == ["yolo"]


def test_open_drops_an_entry_whose_blob_is_gone(store: ModelStore, model_file) -> None:
    model = store.add(model_file(YOLO), "yolo", [], None, YOLO_SHA)
    store.add(model_file(SSD), "ssd", [], None, SSD_SHA)
    model.path.unlink()

    reopened = ModelStore(store.root)

    assert [m.name for m in reopened.list()] == ["ssd"]
    assert reopened.warnings == [
        f"model 'yolo' is listed but its file {YOLO_SHA}.onnx is gone; dropped it"
    ]
    assert ModelStore(store.root).warnings == []


def test_a_corrupt_index_is_moved_aside_and_every_blob_stays_listed_as_recovered(
    store: ModelStore, model_file
) -> None:
    store.add(model_file(YOLO), "yolo", ["person"], None, YOLO_SHA)
    store.add(model_file(SSD), "ssd", [], None, SSD_SHA)
    index = store.root / "models" / "index.json"
    index.write_text('{"format": 1, "models": {"yolo": {"sha256": 12')

    reopened = ModelStore(store.root)

    recovered = {m.name: m for m in reopened.list()}
    assert sorted(recovered) == sorted([f"recovered-{YOLO_SHA[:12]}", f"recovered-{SSD_SHA[:12]}"])
    assert recovered[f"recovered-{YOLO_SHA[:12]}"].path.read_bytes() == YOLO
    assert recovered[f"recovered-{SSD_SHA[:12]}"].size == len(SSD)
    assert len(list(index.parent.glob("index.json.corrupt-*"))) == 1
    assert len(reopened.warnings) == 1
    assert "listed its 2 model file(s) as recovered-<digest>" in reopened.warnings[0]
    # The recovery was saved: the next start finds the same models and deletes nothing.
    again = ModelStore(store.root)
    assert again.list() == reopened.list() and again.warnings == []


def test_in_use_by_may_read_the_store_while_remove_holds_it(store: ModelStore, model_file) -> None:
    store.add(model_file(YOLO), "yolo", [], None, YOLO_SHA)

    def used_by(name: str) -> list[str]:
        return ["line3"] if store.get(name).sha256 == YOLO_SHA else []

    with pytest.raises(ModelInUse, match="used by app\\(s\\) line3"):
        store.remove("yolo", in_use_by=used_by)
