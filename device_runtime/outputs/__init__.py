"""Outputs: app events delivered to plant systems through a durable outbox.

``outbox`` (SQLite, WAL, fsync'd, bounded, counted drops), ``dispatcher``
(filter, debounce, one ordered delivery thread per output with capped
backoff) and ``sinks`` (MQTT, webhook, Modbus TCP, OPC UA, S3, CloudWatch),
all run in the outputs process: ``process`` (the device's side), ``host``
(the child's) and ``wire`` (the frames between them).
The output specs themselves are part of the app contract:
``device_runtime.protocol.apps.outputs``.
"""
