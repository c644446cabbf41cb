"""Simulated peers shipped with the product: an ONVIF camera and its WS-Discovery responder (used by tests and the demo)."""
