"""The page's files: the static files of this package plus `config.json` for the browser."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
CONFIG_KEYS = ("apiUrl", "region", "userPoolId", "clientId", "authDomain", "redirectUri")


@dataclass(frozen=True)
class File:
    key: str
    body: bytes
    content_type: str
    cache_control: str


def config_json(config: Mapping[str, str]) -> bytes:
    missing = [key for key in CONFIG_KEYS if not config.get(key)]
    if missing:
        raise ValueError(f"the page's configuration lacks {', '.join(missing)}")
    return json.dumps({key: config[key] for key in CONFIG_KEYS}, indent=1).encode()


def files(config: Mapping[str, str], static: Path = STATIC) -> Iterator[File]:
    for path in sorted(p for p in static.rglob("*") if p.is_file()):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        yield File(path.relative_to(static).as_posix(), path.read_bytes(), content_type, "no-cache")
    # Read on every load so that a redeploy with new endpoints takes effect at once.
    yield File("config.json", config_json(config), "application/json", "no-store")
