"""The self-test's resource checks: a bundle that lost a data file fails naming it.

The frozen layout is imitated by pointing ``sys._MEIPASS`` (what PyInstaller
sets) at a copy of resources/ with one piece missing or broken; the real
frozen run is scripts/package.sh's check (make package, .ci/run).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from console_app.resources import ResourceMissing, installed_version, resource_root
from console_app.ui.self_test import BundleCheckFailed, check_bundled_resources

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake_bundle(tmp_path, monkeypatch):
    """A frozen-layout folder holding a copy of resources/ and a version file."""
    shutil.copytree(REPO / "resources", tmp_path / "resources")
    (tmp_path / "sightline-version.txt").write_text("9.8.7\n")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    return tmp_path


def test_every_resource_loads_from_a_source_checkout():
    lines = check_bundled_resources()
    assert any("sightline-demo.onnx" in line for line in lines)
    assert any("line-safety" in line for line in lines)
    assert any("ONVIF WSDLs load" in line for line in lines)
    assert any("FFmpeg" in line for line in lines)


def test_a_frozen_bundle_reads_its_resources_and_stamped_version_from_meipass(fake_bundle):
    assert resource_root() == fake_bundle / "resources"
    assert installed_version() == "9.8.7"
    assert len(check_bundled_resources()) == 5


def test_a_bundle_without_its_version_file_says_so(fake_bundle):
    (fake_bundle / "sightline-version.txt").unlink()
    with pytest.raises(ResourceMissing, match="version file is missing"):
        installed_version()


def test_a_bundle_missing_a_models_labels_fails_naming_the_file(fake_bundle):
    (fake_bundle / "resources" / "models" / "sightline-demo.labels").unlink()
    with pytest.raises(ResourceMissing, match=r"models/sightline-demo.labels is missing"):
        check_bundled_resources()


def test_a_bundle_with_a_corrupt_model_fails_naming_the_model(fake_bundle):
    (fake_bundle / "resources" / "models" / "sightline-demo.onnx").write_bytes(b"not a model")
    with pytest.raises(BundleCheckFailed, match=r"bundled model sightline-demo.onnx does not load"):
        check_bundled_resources()


def test_a_sample_app_naming_a_model_the_bundle_lacks_fails_naming_both(fake_bundle):
    app = fake_bundle / "resources" / "apps" / "line-safety" / "app.json"
    app.write_text(app.read_text().replace('"name": "sightline-demo"', '"name": "gone"'))
    with pytest.raises(ResourceMissing, match=r"models/gone.onnx is missing"):
        check_bundled_resources()
