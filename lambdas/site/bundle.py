"""The site's files for one installation: the release's frontend bundle with its tokens replaced.

The release build (`installer.frontend`) runs data.all's frontend build once, with a token such as
`__DATAALL_COGNITO_USER_POOL_ID__` wherever an installation's value goes, and records the tokens
and the values it baked in (`METADATA_NAME`, inside the bundle). `configure` is pure (no AWS, no
files): the bundle's bytes and the installation's values in, every file of the site out, with the
Content-Type and Cache-Control it is stored with in the site bucket. Every token is accounted for:
a bundle carrying a token its metadata does not declare, a value missing, a value for a name the
bundle does not know, or one for a value the build settled differently, is refused by name.

Cache-Control, for a CDN in front of the bucket: `index.html` (and every file that holds an
installation's value: its name's content hash was computed on the tokens, so the name stays the
same when the values change) is `no-cache`, revalidated on each load so a new bundle or new values
show at once; react-scripts' other hashed files under `static/` never change under their name and
are cached for a year.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

METADATA_NAME = "dataall-site.json"
FORMAT = 1
TOKEN = re.compile(rb"__DATAALL_[A-Z0-9_]+__")
_TOKEN_TEXT = re.compile(r"__DATAALL_[A-Z0-9_]+__")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
#: What a value may hold: it lands inside JavaScript string literals and HTML as it is, so nothing
#: that would need escaping there (quotes, backslash, angle brackets, braces, controls), and spaces only
#: one at a time between other characters (OAuth's space-separated scopes and response types of a custom
#: auth provider).
_VALUE_CHARACTERS = r"[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]"
VALUE = re.compile(rf"(?=.{{1,2048}}$){_VALUE_CHARACTERS}+( {_VALUE_CHARACTERS}+)*", re.DOTALL)
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class BundleError(ValueError):
    """A bundle or a set of values that cannot make the site, naming what is wrong."""


@dataclass(frozen=True)
class BundleMetadata:
    """What the build recorded in the bundle: name -> token, and name -> value it settled."""

    placeholders: dict[str, str]
    fixed: dict[str, str]
    source_digest: str
    format: int = FORMAT

    def to_json(self) -> str:
        document = {
            "format": self.format,
            "placeholders": dict(sorted(self.placeholders.items())),
            "fixed": dict(sorted(self.fixed.items())),
            "source_digest": self.source_digest,
        }
        return json.dumps(document, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: bytes | str) -> BundleMetadata:
        try:
            document = json.loads(text)
        except ValueError as error:
            raise BundleError(f"{METADATA_NAME} is not JSON: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise BundleError(f"{METADATA_NAME}: not a site bundle of format {FORMAT}")
        placeholders, fixed = document.get("placeholders"), document.get("fixed")
        digest = document.get("source_digest")
        if not _str_map(placeholders) or not _str_map(fixed) or not isinstance(digest, str):
            raise BundleError(f"{METADATA_NAME}: placeholders, fixed (objects of strings) and source_digest expected")
        for name, token in placeholders.items():
            if not _NAME.fullmatch(name) or not _TOKEN_TEXT.fullmatch(token):
                raise BundleError(f"{METADATA_NAME}: placeholder {name!r} -> {token!r} is not a name and a token")
        if len(set(placeholders.values())) != len(placeholders):
            raise BundleError(f"{METADATA_NAME}: two placeholders share a token")
        both = sorted(set(placeholders) & set(fixed))
        if both:
            raise BundleError(f"{METADATA_NAME}: {', '.join(both)} both a placeholder and fixed")
        return cls(placeholders=dict(placeholders), fixed=dict(fixed), source_digest=digest)


def _str_map(value: Any) -> TypeGuard[dict[str, str]]:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


@dataclass(frozen=True)
class SiteFile:
    """One object of the site bucket."""

    key: str
    body: bytes
    content_type: str
    cache_control: str


def read_bundle(bundle: bytes) -> tuple[BundleMetadata, dict[str, bytes]]:
    """The bundle's metadata and its files (name -> bytes), checked to be a site bundle."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(bundle))
    except zipfile.BadZipFile:
        raise BundleError("the site bundle is not a zip") from None
    with archive:
        files = {}
        for info in archive.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                raise BundleError(f"the site bundle holds a file outside its root: {name!r}")
            files[name] = archive.read(info)
    if METADATA_NAME not in files:
        raise BundleError(f"the site bundle has no {METADATA_NAME}: not built by `dataall-installer build`")
    metadata = BundleMetadata.from_json(files.pop(METADATA_NAME))
    if "index.html" not in files:
        raise BundleError("the site bundle has no index.html")
    return metadata, files


def configure(bundle: bytes, values: Mapping[str, str]) -> list[SiteFile]:
    """Every file of the site, the bundle's tokens replaced by `values` (name -> value)."""
    metadata, files = read_bundle(bundle)
    _check_values(metadata, values)
    known = {token.encode(): name for name, token in metadata.placeholders.items()}
    carried: dict[bytes, list[str]] = {}
    for name, data in files.items():
        for token in set(TOKEN.findall(data)):
            carried.setdefault(token, []).append(name)
    unknown = sorted(token.decode() for token in carried if token not in known)
    if unknown:
        where = "; ".join(f"{token} in {', '.join(sorted(carried[token.encode()]))}" for token in unknown)
        raise BundleError(f"the site bundle carries placeholders its {METADATA_NAME} does not declare: {where}")
    absent = sorted(name for token, name in known.items() if token not in carried)
    if absent:
        raise BundleError(f"the site bundle declares placeholders no file carries: {', '.join(absent)}")
    replacements = {token: values[name].encode() for token, name in known.items()}
    site = []
    for name in sorted(files):
        data = files[name]
        configured = bool(TOKEN.search(data))
        if configured:
            data = TOKEN.sub(lambda match: replacements[match.group(0)], data)
        site.append(SiteFile(name, data, content_type(name), cache_control(name, configured)))
    return site


def _check_values(metadata: BundleMetadata, values: Mapping[str, str]) -> None:
    problems = []
    missing = sorted(set(metadata.placeholders) - set(values))
    if missing:
        problems.append(f"no value for {', '.join(missing)}")
    unknown = sorted(set(values) - set(metadata.placeholders) - set(metadata.fixed))
    if unknown:
        problems.append(f"the bundle has no placeholder for {', '.join(unknown)}")
    for name in sorted(set(values) & set(metadata.fixed)):
        if values[name] != metadata.fixed[name]:
            problems.append(
                f"{name} is {metadata.fixed[name]!r} in this bundle (settled when it was built), not {values[name]!r}"
            )
    for name in sorted(set(values) & set(metadata.placeholders)):
        value = values[name]
        if not isinstance(value, str) or not VALUE.fullmatch(value):
            problems.append(
                f"{name}: {value!r} is not a value the site can carry "
                "(URL characters, single spaces between them, 1 to 2048)"
            )
    if problems:
        raise BundleError("the site's values: " + "; ".join(problems))


def content_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name.rsplit("/", 1)[-1] else ""
    return CONTENT_TYPES.get(suffix, DEFAULT_CONTENT_TYPE)


def cache_control(name: str, configured: bool) -> str:
    if name.startswith("static/") and not configured:
        return IMMUTABLE
    return NO_CACHE
