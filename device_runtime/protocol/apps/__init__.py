"""The app contract both halves share: manifests, parameters, camera/model specs, geometry.

The device validates a package's ``app.json`` with these classes, and the console builds
and checks manifests with the very same ones, so a manifest the console accepts is one the
device accepts. Pure: pydantic and numpy, no threads, no I/O besides parsing.
"""
