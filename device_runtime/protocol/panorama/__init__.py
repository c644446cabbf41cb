"""AWS Panorama project formats (graph.json, overrides, package.json, descriptor.json), shared with the console."""

from __future__ import annotations

from device_runtime.protocol.panorama.formats import PanoramaFormatError
from device_runtime.protocol.panorama.project import PanoramaProject, load_project

__all__ = ["PanoramaFormatError", "PanoramaProject", "load_project"]
