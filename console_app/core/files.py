"""Writing the console's own files so that a crash never leaves half a file.

Every file the console keeps (settings, the pairing index, the model and app
libraries' indexes, keys and secrets) is written through :func:`write_atomically`:
the data goes to a fresh temporary file beside the target (created with
``O_EXCL``, so a file or link planted there is never written through), is
flushed to disk and then renamed over the target. On any failure the
temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from secrets import token_hex


def write_atomically(path: Path, data: bytes | str, *, private: bool = False, exclusive: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step.

    ``private``: the file is 0600 from its creation and its folder 0700 (for
    keys and secrets). ``exclusive``: raise ``FileExistsError`` instead of
    replacing an existing file (an atomic "create only if absent").
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if not isinstance(payload, bytes):
        raise TypeError(f"write_atomically writes bytes or text, not {type(data).__name__}")
    if private:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        os.chmod(path.parent, 0o700)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if private:
            os.chmod(tmp, 0o600)  # whatever the umask did to O_CREAT's mode
        if exclusive:
            os.link(tmp, path)  # fails if path exists, unlike os.replace
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private_file(path: Path, data: bytes) -> None:
    """Write a secret atomically so it is never readable by others, not even while being written."""
    if not isinstance(data, bytes):
        raise TypeError(f"a private file holds bytes, not {type(data).__name__}")
    write_atomically(path, data, private=True)
