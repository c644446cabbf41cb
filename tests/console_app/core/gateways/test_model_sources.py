"""Fetching models from S3 and SageMaker (moto's real HTTP server on 127.0.0.1), and archives."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from console_app.core.gateways import model_sources as ms
from console_app.core.settings import CloudSettings
from tests.peers.moto_s3 import MotoServer, isolated_aws_environment, model_tar_gz
from tests.peers.postgres import free_port

BUCKET = "plant-models"


@pytest.fixture
def moto(monkeypatch, tmp_path: Path):
    isolated_aws_environment(monkeypatch, tmp_path / "aws", profiles={"plant": "eu-west-1"})
    with MotoServer() as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def cloud(moto) -> CloudSettings:
    return CloudSettings(endpoint_url=moto.endpoint_url)


def test_s3_uri_is_parsed_and_bad_ones_are_named():
    assert ms.parse_s3_uri("s3://plant-models/helmet/v2/model.onnx") == ms.S3Location(
        "plant-models", "helmet/v2/model.onnx")
    for bad, expected in [("https://x/y.onnx", "is not an S3 URI"), ("s3:///key.onnx", "names no bucket"),
                          ("s3://bucket", "names a bucket or folder"), ("s3://bucket/dir/", "folder")]:
        with pytest.raises(ms.ModelSourceError, match=expected):
            ms.parse_s3_uri(bad)


def test_download_streams_the_object_with_progress_to_the_end(moto, cloud, tmp_path):
    data = bytes(range(256)) * 9000  # 2.3 MB: three chunks
    moto.client("s3").put_object(Bucket=BUCKET, Key="det/model.onnx", Body=data)
    seen: list[tuple[int, int | None]] = []

    size = ms.download_s3(f"s3://{BUCKET}/det/model.onnx", tmp_path / "out", cloud,
                          progress=lambda done, total: seen.append((done, total)))

    assert size == len(data) and (tmp_path / "out").read_bytes() == data
    assert seen[-1] == (len(data), len(data)) and len(seen) >= 3


def test_named_profile_from_the_settings_is_used(moto, tmp_path):
    moto.client("s3").put_object(Bucket=BUCKET, Key="m.onnx", Body=b"abc")
    cloud = CloudSettings(profile="plant", endpoint_url=moto.endpoint_url)

    assert ms.download_s3(f"s3://{BUCKET}/m.onnx", tmp_path / "out", cloud) == 3


def test_unknown_profile_is_named():
    with pytest.raises(ms.CloudCredentialsError, match="profile 'nobody'"):
        ms.download_s3(f"s3://{BUCKET}/m.onnx", Path("/nonexistent/out"), CloudSettings(profile="nobody"))


def test_cancelling_a_download_stops_it_and_leaves_no_file(moto, cloud, tmp_path):
    moto.client("s3").put_object(Bucket=BUCKET, Key="big.onnx", Body=b"x" * (3 * ms.CHUNK_BYTES))
    cancel = threading.Event()

    def progress(done, total):
        cancel.set()  # the engineer presses Cancel after the first chunk

    with pytest.raises(ms.DownloadCancelled):
        ms.download_s3(f"s3://{BUCKET}/big.onnx", tmp_path / "out", cloud, progress=progress,
                       cancelled=cancel.is_set)
    assert not (tmp_path / "out").exists()


def test_missing_key_names_bucket_and_key(moto, cloud, tmp_path):
    with pytest.raises(ms.S3ObjectNotFound) as raised:
        ms.download_s3(f"s3://{BUCKET}/no/such.onnx", tmp_path / "out", cloud)
    assert f"s3://{BUCKET}/no/such.onnx does not exist" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_missing_bucket_is_named(moto, cloud, tmp_path):
    with pytest.raises(ms.S3ObjectNotFound, match="s3://no-such-bucket-x/m.onnx: the bucket does not exist"):
        ms.download_s3("s3://no-such-bucket-x/m.onnx", tmp_path / "out", cloud)


def test_object_denied_by_bucket_policy_says_access_denied(moto, cloud, tmp_path):
    """moto's server enforces an explicit Deny in the bucket policy (403 on GetObject)."""
    s3 = moto.client("s3")
    s3.put_object(Bucket=BUCKET, Key="restricted/m.onnx", Body=b"secret")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{BUCKET}/restricted/*"}],
    }))

    with pytest.raises(ms.S3AccessDenied) as raised:
        ms.download_s3(f"s3://{BUCKET}/restricted/m.onnx", tmp_path / "out", cloud)
    message = str(raised.value)
    assert f"access to s3://{BUCKET}/restricted/m.onnx is denied" in message
    assert "sightline-test-secret-key" not in message and "AKIDSIGHTLINETEST" not in message


def test_unreachable_endpoint_says_offline(monkeypatch, tmp_path):
    isolated_aws_environment(monkeypatch, tmp_path / "aws")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    with pytest.raises(ms.CloudUnreachable) as raised:
        ms.download_s3(f"s3://{BUCKET}/m.onnx", tmp_path / "out", CloudSettings(endpoint_url=endpoint))
    assert f"cannot reach {endpoint} (offline?)" in str(raised.value)


def test_no_credentials_at_all_is_explained(monkeypatch, tmp_path, moto):
    isolated_aws_environment(monkeypatch, tmp_path / "empty-aws")
    (tmp_path / "empty-aws" / "aws-credentials").write_text("")
    with pytest.raises(ms.CloudCredentialsError, match="no AWS credentials"):
        ms.download_s3(f"s3://{BUCKET}/m.onnx", tmp_path / "out", CloudSettings(endpoint_url=moto.endpoint_url))


def test_sagemaker_job_artefact_is_found_by_name_or_arn(moto, cloud):
    uri = moto.create_training_job("helmet-2024-06-01", f"s3://{BUCKET}/training")

    assert ms.training_job_artifact("helmet-2024-06-01", cloud) == uri
    assert uri == f"s3://{BUCKET}/training/helmet-2024-06-01/output/model.tar.gz"
    arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/helmet-2024-06-01"
    assert ms.training_job_artifact(arn, cloud) == uri


def test_unknown_sagemaker_job_and_bad_names_are_named(moto, cloud):
    with pytest.raises(ms.TrainingJobError, match="'no-such-job' does not exist in region us-east-1"):
        ms.training_job_artifact("no-such-job", cloud)
    with pytest.raises(ms.TrainingJobError, match="is not a SageMaker training job name"):
        ms.training_job_artifact("bad name!", cloud)


# ---------------------------------------------------------------------------- archives


def _write(path: Path, members: dict[str, bytes]) -> Path:
    path.write_bytes(model_tar_gz(members))
    return path


def test_the_one_onnx_is_extracted_and_nothing_else(tmp_path):
    archive = _write(tmp_path / "model.tar.gz", {"code/inference.py": b"print()", "model.onnx": b"ONNX"})

    assert ms.looks_like_archive(archive)
    assert ms.extract_onnx(archive, tmp_path / "out.onnx") == "model.onnx"
    assert (tmp_path / "out.onnx").read_bytes() == b"ONNX"
    assert not (tmp_path / "code").exists()


def test_several_models_are_named_and_one_can_be_chosen(tmp_path):
    archive = _write(tmp_path / "model.tar.gz", {"a/det.onnx": b"A", "b/cls.onnx": b"B", "._det.onnx": b"x"})

    with pytest.raises(ms.AmbiguousArchive) as raised:
        ms.extract_onnx(archive, tmp_path / "out.onnx")
    assert raised.value.candidates == ("a/det.onnx", "b/cls.onnx")
    assert "a/det.onnx, b/cls.onnx" in str(raised.value)

    assert ms.extract_onnx(archive, tmp_path / "out.onnx", member="b/cls.onnx") == "b/cls.onnx"
    assert (tmp_path / "out.onnx").read_bytes() == b"B"
    with pytest.raises(ms.ArchiveError, match="has no model 'c.onnx'; its models are: a/det.onnx"):
        ms.extract_onnx(archive, tmp_path / "out.onnx", member="c.onnx")


def test_traversal_links_oversize_and_empty_archives_are_refused(tmp_path):
    escaping = _write(tmp_path / "escape.tar.gz", {"../../etc/model.onnx": b"x"})
    with pytest.raises(ms.ArchiveError, match="escapes its folder"):
        ms.extract_onnx(escaping, tmp_path / "out.onnx")

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("model.onnx")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    (tmp_path / "link.tar.gz").write_bytes(buffer.getvalue())
    with pytest.raises(ms.ArchiveError, match="model.onnx is a link"):
        ms.extract_onnx(tmp_path / "link.tar.gz", tmp_path / "out.onnx")

    big = _write(tmp_path / "big.tar.gz", {"model.onnx": b"x" * 2000})
    with pytest.raises(ms.ArchiveError, match="larger than"):
        ms.extract_onnx(big, tmp_path / "out.onnx", max_bytes=1000)

    none = _write(tmp_path / "none.tar.gz", {"weights.pt": b"x"})
    with pytest.raises(ms.ArchiveError, match=r"holds no \.onnx file \(it has: weights.pt\)"):
        ms.extract_onnx(none, tmp_path / "out.onnx")

    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(ms.ArchiveError, match="is not a readable tar.gz archive"):
        ms.extract_onnx(tmp_path / "broken.tar.gz", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
