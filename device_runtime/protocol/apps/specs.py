"""Declarations every kind of app shares: cameras and models, and camera secrets.

Camera passwords never travel in a manifest: a camera URL carries at most the
user name (``rtsp://admin@10.0.0.5/stream1``), and the password is a named
secret (:func:`camera_password_secret`) that the console sends beside the
package and the device keeps in its secret store, putting it back into the URL
(``device_runtime.media.redact.url_with_password``) only when it opens the stream.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Literal
from pydantic import Field, field_validator, model_validator

from device_runtime.media.redact import redact_url, split_credentials
from device_runtime.protocol.apps.validation import FieldProblems, StrictModel, show_value

CAMERA_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
SHA256_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")

Decoder = Literal["yolov5", "yolov8", "end2end", "ssd", "classification", "raw"]


def camera_password_secret(camera_id: str) -> str:
    """The name of a camera's password in the device's secret store: ``camera/<camera id>/password``."""
    return f"camera/{camera_id}/password"


class CameraSpec(StrictModel):
    """One camera the app reads."""

    id: str = Field(
        title="Camera id",
        description="Unique within the app; zones, lines, events and previews refer to it "
        "(1-63 letters, digits, '_' or '-').",
    )
    url: str = Field(
        title="Stream URL",
        description="Where the device opens the stream, e.g. rtsp://user@10.0.0.5/stream1 (or "
        "rtsp://10.0.0.5/live?user=admin&pwd= for a camera that takes its password in the query). The "
        "password is not part of the manifest: it is the secret camera/<camera id>/password, sent "
        "beside the package at deploy and kept in the device's secret store.",
    )
    name: str = Field(
        default="",
        max_length=200,
        title="Display name",
        description="What the console shows for this camera; empty: the id.",
    )

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not CAMERA_ID_PATTERN.match(value):
            raise ValueError(
                f"camera id {show_value(value)} is not valid: use 1-63 letters, digits, '_' or "
                "'-', starting with a letter or digit"
            )
        return value

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not URL_PATTERN.match(value):
            # Redacted, since a half-typed URL may still carry a password.
            raise ValueError(
                f"expected a stream URL such as rtsp://host:554/stream1, got "
                f"{show_value(redact_url(value))}"
            )
        return value


class ModelSpec(StrictModel):
    """The model a detector app runs: bundled in the package (``file``) or already on the device (``name``)."""

    name: str = Field(
        default="",
        title="Model name",
        description="The name the device knows the model by. With 'file': the name the bundled "
        "model is installed under (default: the file's stem); without: a model already uploaded.",
    )
    file: str | None = Field(
        default=None,
        title="Bundled file",
        description="Path of an .onnx file inside the app package, relative to app.json, "
        "with '/' separators and no '..'; null or left out: the model is already on the device.",
    )
    sha256: str = Field(
        default="",
        title="SHA-256",
        description="Hex digest the model file must have; empty: not checked.",
    )
    decoder: Decoder | None = Field(
        default=None,
        title="Output decoder",
        description="How to read the model's outputs (yolov5, yolov8, end2end, ssd, "
        "classification, raw); null: detected from the output shapes.",
    )
    labels: list[str] = Field(
        default_factory=list,
        title="Class labels",
        description="Class names by class id; empty: the labels stored with the model on the device.",
    )
    input_size: tuple[int, int] | None = Field(
        default=None,
        title="Input size",
        description="[width, height] the model expects, for models with a dynamic input; null: "
        "read from the model.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if value and not MODEL_NAME_PATTERN.match(value):
            raise ValueError(
                f"model name {show_value(value)} is not valid: use 1-128 letters, digits, '.', "
                "'_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("file")
    @classmethod
    def _valid_file(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value:
            raise ValueError(
                "must not be empty; leave 'file' out to use a model already on the device"
            )
        if "\\" in value:
            raise ValueError(f"use '/' as the path separator, got {show_value(value)}")
        if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
            raise ValueError(
                f"must be a path relative to app.json inside the package, got {show_value(value)}"
            )
        path = PurePosixPath(value)
        if ".." in path.parts:
            raise ValueError(f"must stay inside the package (no '..'), got {show_value(value)}")
        if path.suffix.lower() != ".onnx":
            raise ValueError(f"expected an .onnx file, got {show_value(value)}")
        return value

    @field_validator("sha256")
    @classmethod
    def _valid_sha256(cls, value: str) -> str:
        if value and not SHA256_PATTERN.match(value):
            raise ValueError(f"expected 64 hex digits, got {show_value(value)}")
        return value.lower()

    @field_validator("labels")
    @classmethod
    def _valid_labels(cls, labels: list[str]) -> list[str]:
        problems: list[tuple[tuple, str]] = []
        seen: dict[str, int] = {}
        for index, label in enumerate(labels):
            if not label:
                problems.append(((index,), "label must not be empty"))
            elif label in seen:
                problems.append(
                    ((index,), f"label {show_value(label)} repeats labels[{seen[label]}]")
                )
            seen.setdefault(label, index)
        if problems:
            raise FieldProblems(problems)
        return labels

    @field_validator("input_size", mode="before")
    @classmethod
    def _valid_input_size(cls, value: Any) -> Any:
        if value is None:
            return value
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 8192 for v in value
            )
        )
        if not ok:
            raise ValueError(
                f"expected [width, height] as whole numbers in 1..8192, got {show_value(value)}"
            )
        return value

    @model_validator(mode="after")
    def _file_or_name(self) -> ModelSpec:
        if not self.file and not self.name:
            raise ValueError(
                "give 'file' (a model bundled in the package) or 'name' (a model already on the device)"
            )
        return self

    @property
    def ref(self) -> str:
        """The name apps and the inference service use for this model."""
        return self.name or PurePosixPath(self.file or "").stem
