"""Adapters to the world outside the console: devices (gRPC, TLS, mDNS), cameras, storage."""
