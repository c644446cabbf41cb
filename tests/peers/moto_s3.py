"""A real S3 (and SageMaker) HTTP endpoint on 127.0.0.1: moto's threaded server.

boto3 talks to it over HTTP exactly as to AWS, pointed there by ``endpoint_url``::

    with MotoServer() as server:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="plant-models")
        CloudSettings(endpoint_url=server.endpoint_url)   # what the console uses

moto's server enforces bucket policies (an explicit Deny gives 403 on
GetObject) and implements SageMaker's CreateTrainingJob/DescribeTrainingJob
(the artefact URI is ``<S3OutputPath>/<job>/output/model.tar.gz``).
moto keeps its state per process, so the server is reset when it starts and
stops: tests never see each other's buckets.

:func:`isolated_aws_environment` points boto3 at throwaway config and
credential files with test keys, so a developer's ~/.aws is never read.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

import pytest

TEST_ACCESS_KEY = "AKIDSIGHTLINETEST"
TEST_SECRET_KEY = "sightline-test-secret-key"
REGION = "us-east-1"


class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1 and a free port; stop() or use as a context manager."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.reset()
        return self

    def reset(self) -> None:
        """Forget every bucket, policy and job: moto keeps them per process, not per server."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        self.reset()
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client(self, service: str):
        """A boto3 client with the test keys (the server accepts any; policies see this identity)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=TEST_ACCESS_KEY,
            aws_secret_access_key=TEST_SECRET_KEY,
        )

    def create_training_job(self, job: str, output_path: str) -> str:
        """A completed SageMaker job writing to ``output_path``; returns its artefact URI."""
        sagemaker = self.client("sagemaker")
        sagemaker.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={"TrainingImage": "trainer:latest", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/sightline-training",
            OutputDataConfig={"S3OutputPath": output_path},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        described = sagemaker.describe_training_job(TrainingJobName=job)
        return described["ModelArtifacts"]["S3ModelArtifacts"]


def isolated_aws_environment(monkeypatch: pytest.MonkeyPatch, folder: Path,
                             profiles: Mapping[str, str] | None = None) -> None:
    """Test keys in the environment, and config/credential files of our own in ``folder``.

    ``profiles`` maps extra profile names to their region (same test keys).
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "aws-config"
    credentials = folder / "aws-credentials"
    config_text = [f"[default]\nregion = {REGION}\n"]
    credential_text = [f"[default]\naws_access_key_id = {TEST_ACCESS_KEY}\n"
                       f"aws_secret_access_key = {TEST_SECRET_KEY}\n"]
    for name, region in (profiles or {}).items():
        config_text.append(f"[profile {name}]\nregion = {region}\n")
        credential_text.append(f"[{name}]\naws_access_key_id = {TEST_ACCESS_KEY}\n"
                               f"aws_secret_access_key = {TEST_SECRET_KEY}\n")
    config.write_text("\n".join(config_text))
    credentials.write_text("\n".join(credential_text))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    # No instance-metadata probing (it would wait for 169.254.169.254 on a machine without it).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def model_tar_gz(members: Mapping[str, bytes]) -> bytes:
    """A gzip tar holding ``members`` (name → bytes), as SageMaker writes model.tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
