"""Downloads of the URLs an AWS service hands out (ECR's pre-signed layer URLs), streamed."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator

#: Bytes read from a download at a time (a layer is never held whole).
CHUNK = 1024 * 1024
TIMEOUT = 60


def stream_url(url: str) -> Iterator[bytes]:
    """The body of `url` in chunks. Only http(s): ECR's URLs are HTTPS (S3 pre-signed), the
    sandbox's are plain HTTP on its own endpoint."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"not an HTTP(S) download URL: {url[:80]}")
    with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 - scheme checked above
        while chunk := answer.read(CHUNK):
            yield chunk
