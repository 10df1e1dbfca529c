"""data.all's web UI on a local URL, served the way its CloudFront distribution serves the site bucket.

data.all's distribution (`deploy/stacks/cloudfront.py`): an S3 origin, default root object
`index.html`, and error responses that answer a 403 or a 404 of the origin with `/index.html`
(status kept, `ttl` 0), so the single-page app's own routes (`/console/environments`) load the app,
which routes them in the browser; the managed SECURITY_HEADERS response headers policy; GET and HEAD
only (the behaviour's default allowed methods); the query string is not part of the cache key nor
sent to the origin (CACHING_OPTIMIZED). Each object is served with the Content-Type and
Cache-Control it was stored with, and an ETag (a conditional GET answers 304).

The objects come from a `Lookup` (key -> object or None): the sandbox's site bucket
(`bucket_lookup`) or files in memory (`files_lookup`).
"""

from __future__ import annotations

import hashlib
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_ROOT_OBJECT = "index.html"
#: data.all's error responses: the origin's status -> the page served in its place.
ERROR_PAGES = {403: "index.html", 404: "index.html"}
#: CloudFront's managed SECURITY_HEADERS policy (Managed-SecurityHeadersPolicy).
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


@dataclass(frozen=True)
class SiteObject:
    body: bytes
    content_type: str
    cache_control: str | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.md5(self.body, usedforsecurity=False).hexdigest() + '"'


Lookup = Callable[[str], SiteObject | None]


def files_lookup(files: Mapping[str, SiteObject]) -> Lookup:
    return files.get


def bucket_lookup(s3: Any, bucket: str) -> Lookup:
    """Objects of `bucket` through an S3 client (the origin: a missing key is None)."""

    def lookup(key: str) -> SiteObject | None:
        try:
            found = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        return SiteObject(
            body=found["Body"].read(),
            content_type=found.get("ContentType") or "binary/octet-stream",
            cache_control=found.get("CacheControl"),
        )

    return lookup


def respond(lookup: Lookup, path: str) -> tuple[int, SiteObject | None]:
    """The status and object CloudFront answers for a viewer's request path."""
    key = urllib.parse.unquote(urllib.parse.urlsplit(path).path).lstrip("/") or DEFAULT_ROOT_OBJECT
    found = lookup(key)
    if found is not None:
        return 200, found
    status = 404
    page = ERROR_PAGES.get(status)
    return status, lookup(page) if page else None


class SiteServer:
    """A local HTTP endpoint serving a site as CloudFront would, on 127.0.0.1 (port 0: any free one)."""

    def __init__(self, lookup: Lookup, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lookup = lookup
        self.requests: list[tuple[str, int]] = []
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="site-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def _refuse(self) -> None:
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

            def _answer(self, *, body: bool) -> None:
                status, found = respond(site.lookup, self.path)
                site.requests.append((self.path, status))
                if found is None:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if status == 200 and self.headers.get("If-None-Match") == found.etag:
                    self.send_response(304)
                    self.send_header("ETag", found.etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", found.content_type)
                self.send_header("Content-Length", str(len(found.body)))
                self.send_header("ETag", found.etag)
                if found.cache_control:
                    self.send_header("Cache-Control", found.cache_control)
                for name, value in SECURITY_HEADERS.items():
                    self.send_header(name, value)
                self.end_headers()
                if body:
                    self.wfile.write(found.body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def origin_bucket(config: Mapping[str, Any]) -> str:
    """The bucket of a distribution's S3 origin (`<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com`)."""
    for origin in config.get("Origins", {}).get("Items", []):
        domain = str(origin.get("DomainName", ""))
        bucket, marker, _ = domain.partition(".s3.")
        if marker and bucket:
            return bucket
    raise ValueError(f"the distribution has no S3 origin: {config.get('Origins')}")


class Distributions:
    """A local URL for each CloudFront distribution of the sandbox, serving its S3 origin's bucket as
    CloudFront serves it: the way the distribution's domain name (`d…cloudfront.net`) serves it in AWS.

    `client(service)` gives a client of the sandbox (CloudFront's API, S3). Each distribution's server
    is started on its first `url`, and reads the bucket on every request (a new site shows at once)."""

    def __init__(self, client: Callable[[str], Any], host: str = "127.0.0.1") -> None:
        self._client = client
        self._host = host
        self._servers: dict[str, SiteServer] = {}
        self._lock = threading.Lock()

    def url(self, distribution_id: str) -> str:
        with self._lock:
            if distribution_id not in self._servers:
                config = self._client("cloudfront").get_distribution_config(Id=distribution_id)
                bucket = origin_bucket(config["DistributionConfig"])
                lookup = bucket_lookup(self._client("s3"), bucket)
                self._servers[distribution_id] = SiteServer(lookup, host=self._host).start()
            return self._servers[distribution_id].url

    def stop(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()
