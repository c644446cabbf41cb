"""Where models come from besides a local file: S3 objects and SageMaker training jobs (boto3).

* :func:`download_s3` streams ``s3://bucket/key`` to a file the caller names,
  reporting progress and checking a cancel flag between chunks.
* :func:`training_job_artifact` asks SageMaker (``DescribeTrainingJob``) where a
  job left its ``model.tar.gz``.
* :func:`extract_onnx` takes the one ``.onnx`` out of such an archive safely:
  no path traversal, no links, a size cap, and when several models are inside
  it names them (:class:`AmbiguousArchive`) so the engineer can choose.

Profile, region and endpoint URL (a private endpoint, or an S3-compatible
store on the plant network) come from :class:`~console_app.core.settings.CloudSettings`.
Keys come from boto3's own chain (profile files, environment, instance role)
and never pass through this module, its logs or its messages.

Every botocore failure becomes a :class:`ModelSourceError` subclass whose
message names the bucket and key (or the job) and the cause; an unreachable
endpoint (the usual case on an offline plant network) says so in those words.
"""

from __future__ import annotations

import logging
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from console_app.core.settings import CloudSettings

log = logging.getLogger(__name__)

#: Largest model (or archive) accepted: far above any edge detector, far below a full disk.
MAX_MODEL_BYTES = 2 * 1024**3
CHUNK_BYTES = 1024 * 1024
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_JOB_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[^:]*:\d*:training-job/(?P<name>.+)$")

Progress = Callable[[int, "int | None"], None]
Cancelled = Callable[[], bool]


class ModelSourceError(Exception):
    """A model could not be fetched; the message says which object or job and why."""


class CloudUnreachable(ModelSourceError):
    """The S3/SageMaker endpoint cannot be reached (offline, firewall, wrong endpoint URL)."""


class CloudCredentialsError(ModelSourceError):
    """No usable AWS credentials, an unknown profile, or no region where one is needed."""


class S3ObjectNotFound(ModelSourceError):
    """The bucket or the key does not exist."""


class S3AccessDenied(ModelSourceError):
    """The credentials in use may not read that object."""


class TrainingJobError(ModelSourceError):
    """The SageMaker job does not exist, or has no model artefact (yet)."""


class ArchiveError(ModelSourceError):
    """A model archive is not a tar, holds no .onnx, or holds something unsafe."""


class AmbiguousArchive(ArchiveError):
    """The archive holds several .onnx files; ``candidates`` lists them to choose from."""

    def __init__(self, message: str, candidates: tuple[str, ...]):
        super().__init__(message)
        self.candidates = candidates


class DownloadCancelled(ModelSourceError):
    """The engineer cancelled the download."""


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://bucket/key``."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_archive(self) -> bool:
        return self.key.lower().endswith(ARCHIVE_SUFFIXES)


def parse_s3_uri(uri: str) -> S3Location:
    """``s3://bucket/key`` → :class:`S3Location`; :class:`ModelSourceError` saying what is wrong."""
    text = (uri or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() != "s3":
        raise ModelSourceError(
            f"{text!r} is not an S3 URI; expected s3://bucket/path/model.onnx "
            "(or s3://bucket/path/model.tar.gz)"
        )
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket:
        raise ModelSourceError(f"{text!r} names no bucket; expected s3://bucket/path/model.onnx")
    if not key or key.endswith("/"):
        raise ModelSourceError(
            f"{text!r} names a bucket or folder, not an object; name the .onnx file or "
            "model.tar.gz, e.g. s3://{bucket}/path/model.onnx".replace("{bucket}", bucket)
        )
    return S3Location(bucket, key)


def _client(service: str, cloud: CloudSettings | None):
    """A boto3 client for ``service`` configured from the Cloud settings (short timeouts)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    cloud = cloud or CloudSettings()
    try:
        session = boto3.session.Session(profile_name=cloud.profile, region_name=cloud.region)
    except ProfileNotFound:
        raise CloudCredentialsError(
            f"the AWS profile {cloud.profile!r} (Settings → Cloud) is not in ~/.aws/config or "
            "~/.aws/credentials"
        ) from None
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
        # S3-compatible stores (MinIO, Ceph) want bucket names in the path, not the host.
        s3={"addressing_style": "path"} if cloud.endpoint_url else None,
    )
    from botocore.exceptions import NoRegionError

    try:
        return session.client(service, endpoint_url=cloud.endpoint_url, config=config)
    except NoRegionError:
        raise CloudCredentialsError(
            f"no AWS region is set for {service}: choose one in Settings → Cloud "
            "(or set it in the profile)"
        ) from None


def _endpoint(client, cloud: CloudSettings | None) -> str:
    return (cloud.endpoint_url if cloud and cloud.endpoint_url else None) or client.meta.endpoint_url


def explain(error: BaseException, what: str, endpoint: str, cloud: CloudSettings | None) -> ModelSourceError:
    """The :class:`ModelSourceError` for a botocore failure while fetching ``what``."""
    from botocore import exceptions as bx

    profile = f"profile {cloud.profile!r}" if cloud and cloud.profile else "the default credentials"
    if isinstance(error, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ProxyConnectionError)):
        return CloudUnreachable(f"cannot reach {endpoint} (offline?): {what} was not fetched")
    if isinstance(error, bx.SSLError):
        return CloudUnreachable(f"cannot reach {endpoint}: the TLS handshake failed ({what})")
    if isinstance(error, (bx.ReadTimeoutError, bx.ConnectionClosedError, bx.ResponseStreamingError,
                          bx.IncompleteReadError)):
        return CloudUnreachable(f"the connection to {endpoint} was lost while fetching {what} (offline?)")
    if isinstance(error, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return CloudCredentialsError(
            f"no AWS credentials to fetch {what}: choose a profile in Settings → Cloud, or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(error, bx.NoRegionError):
        return CloudCredentialsError(f"no AWS region is set to fetch {what}: choose one in Settings → Cloud")
    if isinstance(error, bx.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", ""))
        message = str(info.get("Message", "")) or code
        if code in ("NoSuchKey", "404", "NotFound"):
            return S3ObjectNotFound(f"{what} does not exist (no such key)")
        if code == "NoSuchBucket":
            return S3ObjectNotFound(f"{what}: the bucket does not exist")
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccessDeniedException"):
            return S3AccessDenied(f"access to {what} is denied for {profile} ({message})")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                    "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredTokenException"):
            return CloudCredentialsError(f"the AWS credentials ({profile}) were refused for {what}: {message}")
        return ModelSourceError(f"{what}: {code}: {message}")
    if isinstance(error, bx.BotoCoreError):
        return ModelSourceError(f"{what}: {error}")
    return ModelSourceError(f"{what}: {type(error).__name__}: {error}")


def download_s3(
    uri: str,
    dest: Path,
    cloud: CloudSettings | None = None,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    max_bytes: int = MAX_MODEL_BYTES,
) -> int:
    """Stream ``uri`` into ``dest`` (created or replaced); returns the number of bytes.

    ``progress(done, total)`` is called after each chunk (``total`` None when
    the store does not say); ``cancelled()`` returning True stops it with
    :class:`DownloadCancelled`. On any failure ``dest`` is removed.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    location = parse_s3_uri(uri)
    client = _client("s3", cloud)
    endpoint = _endpoint(client, cloud)
    log.info("downloading %s from %s", location.uri, endpoint)
    done = 0
    try:
        try:
            response = client.get_object(Bucket=location.bucket, Key=location.key)
            total = response.get("ContentLength")
            if total is not None and total > max_bytes:
                raise ModelSourceError(
                    f"{location.uri} is {total / 1024**2:.0f} MB; models larger than "
                    f"{max_bytes / 1024**2:.0f} MB are refused"
                )
            body = response["Body"]
            try:
                with open(dest, "wb") as out:
                    for chunk in body.iter_chunks(CHUNK_BYTES):
                        if cancelled is not None and cancelled():
                            raise DownloadCancelled(f"download of {location.uri} cancelled")
                        out.write(chunk)
                        done += len(chunk)
                        if done > max_bytes:
                            raise ModelSourceError(
                                f"{location.uri} is larger than {max_bytes / 1024**2:.0f} MB; refused"
                            )
                        if progress is not None:
                            progress(done, total)
            finally:
                body.close()
            if total is not None and done != total:
                raise CloudUnreachable(
                    f"the connection to {endpoint} ended after {done} of {total} bytes of "
                    f"{location.uri} (offline?)"
                )
        except (BotoCoreError, ClientError) as error:
            raise explain(error, location.uri, endpoint, cloud) from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return done


def training_job_name(text: str) -> str:
    """A job name (or its ARN) → the job name; :class:`TrainingJobError` if it cannot be one."""
    text = (text or "").strip()
    match = _JOB_ARN.match(text)
    name = match.group("name") if match else text
    if not _JOB_NAME.match(name):
        raise TrainingJobError(
            f"{text!r} is not a SageMaker training job name: 1-63 letters, digits and hyphens, "
            "starting and ending with a letter or digit (or the job's ARN)"
        )
    return name


def training_job_artifact(job: str, cloud: CloudSettings | None = None) -> str:
    """``DescribeTrainingJob`` → the job's ``ModelArtifacts.S3ModelArtifacts`` URI."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = training_job_name(job)
    client = _client("sagemaker", cloud)
    endpoint = _endpoint(client, cloud)
    what = f"SageMaker training job {name!r}"
    try:
        described = client.describe_training_job(TrainingJobName=name)
    except ClientError as error:
        info = error.response.get("Error", {})
        if info.get("Code") in ("ValidationException", "ResourceNotFound") and "find" in str(
            info.get("Message", "")
        ).lower():
            region = client.meta.region_name
            raise TrainingJobError(f"{what} does not exist in region {region}") from None
        raise explain(error, what, endpoint, cloud) from None
    except BotoCoreError as error:
        raise explain(error, what, endpoint, cloud) from None
    status = described.get("TrainingJobStatus", "unknown")
    uri = (described.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if not uri:
        raise TrainingJobError(f"{what} is {status} and has no model artefact yet")
    if status != "Completed":
        log.warning("%s is %s; importing its artefact %s anyway", what, status, uri)
    return uri


# ---------------------------------------------------------------------------- archives


def looks_like_archive(path: Path) -> bool:
    """True for a gzip file or a plain tar (what SageMaker and people upload as model.tar.gz)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar"


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name) is not None


def onnx_members(archive: Path, shown_as: str | None = None) -> tuple[list[tarfile.TarInfo], list[str]]:
    """The archive's .onnx regular-file members, after refusing anything unsafe.

    Returns (members, every member name) ; raises :class:`ArchiveError` for a
    file that is not a tar, an entry escaping the folder, or an .onnx link.
    """
    shown = shown_as or str(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{shown} is not a readable tar.gz archive ({exc})") from None
    names = [m.name for m in members]
    for member in members:
        if _unsafe(member.name):
            raise ArchiveError(
                f"{shown} holds an entry that escapes its folder ({member.name!r}); refused"
            )
    found = []
    for member in members:
        base = PurePosixPath(member.name).name
        if not base.lower().endswith(".onnx") or base.startswith("._"):
            continue  # "._x.onnx": macOS resource forks, not models
        if member.issym() or member.islnk():
            raise ArchiveError(
                f"{shown}: {member.name} is a link, not a file; refused (links in archives can "
                "point anywhere)"
            )
        if member.isfile():
            found.append(member)
    return found, names


def extract_onnx(
    archive: Path,
    dest: Path,
    member: str | None = None,
    *,
    shown_as: str | None = None,
    max_bytes: int = MAX_MODEL_BYTES,
    cancelled: Cancelled | None = None,
) -> str:
    """Copy the archive's one ``.onnx`` (or ``member``) to ``dest``; returns its name in the archive.

    Only that file's bytes are written, and only to ``dest``: nothing else
    in the archive is extracted. Raises :class:`AmbiguousArchive` (with the
    candidates) when several .onnx files are inside and ``member`` is not
    given, and :class:`ArchiveError` for everything else that is wrong.
    """
    shown = shown_as or str(archive)
    found, names = onnx_members(archive, shown)
    if not found:
        listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise ArchiveError(f"{shown} holds no .onnx file (it has: {listed or 'nothing'})")
    if member is None:
        if len(found) > 1:
            candidates = tuple(m.name for m in found)
            raise AmbiguousArchive(
                f"{shown} holds {len(found)} ONNX models ({', '.join(candidates)}); choose one",
                candidates,
            )
        chosen = found[0]
    else:
        matches = [m for m in found if m.name == member or m.name.lstrip("./") == member.lstrip("./")]
        if not matches:
            raise ArchiveError(
                f"{shown} has no model {member!r}; its models are: {', '.join(m.name for m in found)}"
            )
        chosen = matches[0]
    if chosen.size > max_bytes:
        raise ArchiveError(
            f"{shown}: {chosen.name} is {chosen.size / 1024**2:.0f} MB; models larger than "
            f"{max_bytes / 1024**2:.0f} MB are refused"
        )
    try:
        with tarfile.open(archive, "r:*") as tar:
            source = tar.extractfile(chosen)
            if source is None:
                raise ArchiveError(f"{shown}: {chosen.name} cannot be read")
            with source, open(dest, "wb") as out:
                copied = 0
                while chunk := source.read(CHUNK_BYTES):
                    if cancelled is not None and cancelled():
                        raise DownloadCancelled(f"extracting {chosen.name} from {shown} cancelled")
                    copied += len(chunk)
                    if copied > max_bytes:
                        raise ArchiveError(f"{shown}: {chosen.name} is larger than its header says")
                    out.write(chunk)
    except (tarfile.TarError, EOFError, OSError) as exc:
        dest.unlink(missing_ok=True)
        raise ArchiveError(f"{shown}: {chosen.name} cannot be extracted ({exc})") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return chosen.name


def copy_file(
    source: Path,
    dest: Path,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    max_bytes: int = MAX_MODEL_BYTES,
) -> int:
    """Copy a local model file in chunks (progress, cancel, size cap); returns the size."""
    try:
        total = source.stat().st_size
        if total > max_bytes:
            raise ModelSourceError(
                f"{source} is {total / 1024**2:.0f} MB; models larger than "
                f"{max_bytes / 1024**2:.0f} MB are refused"
            )
        done = 0
        with open(source, "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(CHUNK_BYTES):
                if cancelled is not None and cancelled():
                    raise DownloadCancelled(f"import of {source} cancelled")
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except FileNotFoundError:
        dest.unlink(missing_ok=True)
        raise ModelSourceError(f"{source}: no such file") from None
    except IsADirectoryError:
        dest.unlink(missing_ok=True)
        raise ModelSourceError(f"{source} is a folder; choose the .onnx file inside it") from None
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise ModelSourceError(f"cannot read {source}: {exc.strerror or exc}") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return done


__all__ = [
    "AmbiguousArchive",
    "ArchiveError",
    "CloudCredentialsError",
    "CloudUnreachable",
    "DownloadCancelled",
    "ModelSourceError",
    "S3AccessDenied",
    "S3Location",
    "S3ObjectNotFound",
    "TrainingJobError",
    "copy_file",
    "download_s3",
    "extract_onnx",
    "looks_like_archive",
    "parse_s3_uri",
    "training_job_artifact",
    "training_job_name",
]
