"""How every benchmark prints its figures: one JSON object with --json, else aligned lines."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(figures: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        json.dump(figures, sys.stdout)
        print()
        return
    width = max(len(key) for key in figures) + 2
    for key, value in figures.items():
        print(f"{key:<{width}}{value}")
