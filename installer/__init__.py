"""dataall-installer: the operator's tools (CLI, release build and publish, status)."""

from __future__ import annotations

__version__ = "0.1.0"
