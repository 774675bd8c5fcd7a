"""A small JSON file written whole or not at all (written aside, then renamed): the
ledger's location note, the status file, the holiday cache. A reader never sees half of
one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any, **dump: Any) -> None:
    """`json.dump(data, ..., **dump)` into `path`, its folder made if missing; raises
    OSError (no temp file left behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, **dump)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
