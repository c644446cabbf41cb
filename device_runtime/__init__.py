"""Sightline device runtime: camera ingest, shared ONNX inference, detector apps, TLS gRPC API."""

__version__ = "0.1.0"
