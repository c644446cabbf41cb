"""Regenerate the Python code for the device API from its .proto files.

Run ``make proto`` after editing a .proto. The generated modules are committed
(the device must not need grpcio-tools at run time); a test regenerates them
into a scratch folder and fails when the committed copies are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_FILES = ["device_runtime/protocol/v1/device.proto"]


def generate(out_dir: Path) -> list[Path]:
    """Compile every proto into ``out_dir`` (mirroring the repo layout); return the files written."""
    from grpc_tools import protoc

    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    for proto in PROTO_FILES:
        rc = protoc.main(
            [
                "protoc",
                f"-I{REPO_ROOT}",
                f"-I{include}",
                f"--python_out={out_dir}",
                f"--pyi_out={out_dir}",
                f"--grpc_python_out={out_dir}",
                str(REPO_ROOT / proto),
            ]
        )
        if rc != 0:
            raise RuntimeError(f"protoc failed on {proto} (exit {rc})")
    generated_dir = out_dir / "device_runtime" / "protocol"
    return sorted(p for p in generated_dir.rglob("*_pb2*.py*") if p.is_file())


def main() -> int:
    written = generate(REPO_ROOT)
    for path in written:
        print(path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
