"""Panorama-compatible code apps: AWS Panorama application folders run unchanged.

``device_runtime.protocol.panorama`` reads the project (graph, overrides,
packages, descriptors); this package runs it: each code node in its own
process (``node_process``) fed through shared memory (``frames``), model
nodes on the device's shared sessions (``models``), all of one app wired
by ``app_host``. ``sdk/panoramasdk`` is the module the apps import.
"""
