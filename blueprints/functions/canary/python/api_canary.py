"""CloudWatch Synthetics canary: the API's unauthenticated health route answers `ok`.

The canary fails (and its SuccessPercent alarm fires) when the API does not answer 200
with `{"status": "ok"}` within the timeout, e.g. when the database is unreachable.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

TIMEOUT = 10


def check(url: str, opener: Any = urllib.request.urlopen) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"User-Agent": "dataall-canary"})  # noqa: S310
    with opener(request, timeout=TIMEOUT) as response:
        status = response.status
        body = json.loads(response.read())
    if status != 200 or body.get("status") != "ok":
        raise RuntimeError(f"{url} answered {status}: {body}")
    return body


def handler(_event: Any, _context: Any) -> str:
    body = check(os.environ["HEALTH_URL"])
    print(json.dumps({"health": body}))
    return "ok"
