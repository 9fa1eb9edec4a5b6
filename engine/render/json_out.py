"""Canonical JSON: sorted keys, two-space indent, UTF-8, trailing newline (byte-identical reruns)."""

from __future__ import annotations

import json
from typing import Any


def render(report: dict[str, Any], verbose: bool = False) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
