"""data.all's web UI: the bundle the release build makes (`installer/frontend.py`, here from a tiny
stand-in for react-scripts' output, never data.all's real build) and its configuration for one
installation (`lambdas/site/bundle.py`)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from blueprints.assets import deterministic_zip
from installer import frontend
from lambdas.release.manifest import Manifest, ManifestError
from lambdas.site.bundle import IMMUTABLE, METADATA_NAME, NO_CACHE, BundleError, configure

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
VALUES = {
    "REACT_APP_GRAPHQL_API": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/graphql/api",
    "REACT_APP_SEARCH_API": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/search/api",
    "REACT_APP_REAUTH_TTL": "5",
    "REACT_APP_COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
    "REACT_APP_COGNITO_APP_CLIENT_ID": "1example23456789clientid",
    "REACT_APP_COGNITO_DOMAIN": "dataall-dev-111111111111.auth.eu-west-1.amazoncognito.com",
    "REACT_APP_COGNITO_REGION": "eu-west-1",
    "REACT_APP_COGNITO_REDIRECT_SIGNIN": "https://d111111abcdef8.cloudfront.net",
    "REACT_APP_COGNITO_REDIRECT_SIGNOUT": "https://d111111abcdef8.cloudfront.net",
}


def _token(name: str) -> str:
    return frontend.PLACEHOLDERS[name]


def _fake_build(root: Path) -> Path:
    """What react-scripts leaves in `build/`, in miniature: every token in the main chunk."""
    env = ",".join(f'{name}:"{token}"' for name, token in frontend.PLACEHOLDERS.items())
    files = {
        "index.html": '<!doctype html><html><head><title>data.all</title><script src="/static/js/main.1a2b.js">'
        "</script></head><body><div id=root></div></body></html>",
        "static/js/main.1a2b.js": f"var e={{{env}}};console.log(e)",
        "static/js/12.3c4d.chunk.js": "console.log('no value here')",
        "static/css/main.5e6f.css": "body{margin:0}",
        "static/logo.svg": "<svg/>",
        "favicon.ico": "\0ico",
        "manifest.json": "{}",
    }
    build = root / "build"
    for name, text in files.items():
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        (build / name).write_text(text)
    return build


@pytest.fixture
def bundle(tmp_path: Path) -> bytes:
    return frontend.package(_fake_build(tmp_path), "d" * 64)


def _rezip(bundle: bytes, changes: dict[str, str | None]) -> bytes:
    """The bundle with files replaced (a str), added, or removed (None)."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    for name, text in changes.items():
        if text is None:
            files.pop(name, None)
        else:
            files[name] = text.encode()
    return deterministic_zip((name, data, 0o644) for name, data in files.items())


def test_every_token_is_replaced_by_the_installations_value(bundle: bytes) -> None:
    site = {f.key: f for f in configure(bundle, VALUES)}

    main = site["static/js/main.1a2b.js"].body.decode()
    assert "__DATAALL_" not in b"".join(f.body for f in site.values()).decode(errors="replace")
    for name, value in VALUES.items():
        assert f'{name}:"{value}"' in main
    assert METADATA_NAME not in site


def test_index_and_configured_files_are_revalidated_other_static_files_cached_for_good(bundle: bytes) -> None:
    site = {f.key: f for f in configure(bundle, VALUES)}

    assert site["index.html"].cache_control == NO_CACHE
    assert site["index.html"].content_type == "text/html; charset=utf-8"
    assert site["static/js/main.1a2b.js"].cache_control == NO_CACHE  # its hashed name was computed on the tokens
    assert site["static/js/main.1a2b.js"].content_type == "application/javascript; charset=utf-8"
    assert site["static/js/12.3c4d.chunk.js"].cache_control == IMMUTABLE
    assert site["static/css/main.5e6f.css"].content_type == "text/css; charset=utf-8"
    assert site["static/logo.svg"].content_type == "image/svg+xml"
    assert site["favicon.ico"].content_type == "image/x-icon"
    assert site["manifest.json"].cache_control == NO_CACHE


def test_a_missing_value_is_refused_by_name(bundle: bytes) -> None:
    values = {k: v for k, v in VALUES.items() if k != "REACT_APP_COGNITO_APP_CLIENT_ID"}

    with pytest.raises(BundleError, match="no value for REACT_APP_COGNITO_APP_CLIENT_ID"):
        configure(bundle, values)


def test_a_value_the_bundle_has_no_placeholder_for_is_refused(bundle: bytes) -> None:
    with pytest.raises(BundleError, match="no placeholder for REACT_APP_CUSTOM_AUTH"):
        configure(bundle, {**VALUES, "REACT_APP_CUSTOM_AUTH": "oidc"})


def test_a_value_the_build_settled_otherwise_is_refused_and_the_same_one_accepted(bundle: bytes) -> None:
    with pytest.raises(BundleError, match="REACT_APP_ENABLE_PIVOT_ROLE_AUTO_CREATE is 'False' in this bundle"):
        configure(bundle, {**VALUES, "REACT_APP_ENABLE_PIVOT_ROLE_AUTO_CREATE": "True"})
    assert configure(bundle, {**VALUES, "REACT_APP_ENABLE_PIVOT_ROLE_AUTO_CREATE": "False"})


@pytest.mark.parametrize(
    "value",
    ['https://x"y', "https://x'y", "a  b", " a", "a ", "a\tb", "a\nb", "<script>", "a\\b", "", "x" * 2049, "${x}"],
)
def test_a_value_that_would_need_escaping_is_refused(bundle: bytes, value: str) -> None:
    with pytest.raises(BundleError, match=r"REACT_APP_SEARCH_API: .* is not a value the site can carry"):
        configure(bundle, {**VALUES, "REACT_APP_SEARCH_API": value})


def test_single_spaces_between_words_are_carried_as_oauth_scopes_have_them(bundle: bytes) -> None:
    # a custom auth provider's scopes and response types are space-separated (RFC 6749 3.3)
    files = configure(bundle, {**VALUES, "REACT_APP_SEARCH_API": "openid email profile"})
    assert any(b"openid email profile" in f.body for f in files)


def test_a_token_the_metadata_does_not_declare_is_refused_naming_it_and_its_file(bundle: bytes) -> None:
    changed = _rezip(bundle, {"static/js/extra.js": "x='__DATAALL_NEW_THING__'"})

    with pytest.raises(BundleError, match=r"__DATAALL_NEW_THING__ in static/js/extra\.js"):
        configure(changed, VALUES)


def test_a_declared_token_no_file_carries_is_refused(bundle: bytes) -> None:
    main = 'var e={REACT_APP_GRAPHQL_API:"x"}'
    changed = _rezip(bundle, {"static/js/main.1a2b.js": main})

    with pytest.raises(BundleError, match=r"declares placeholders no file carries: .*REACT_APP_COGNITO_DOMAIN"):
        configure(changed, VALUES)


def test_what_is_not_a_site_bundle_is_refused(bundle: bytes) -> None:
    with pytest.raises(BundleError, match="not a zip"):
        configure(b"not a zip", VALUES)
    with pytest.raises(BundleError, match=f"no {METADATA_NAME}"):
        configure(_rezip(bundle, {METADATA_NAME: None}), VALUES)
    with pytest.raises(BundleError, match=r"no index\.html"):
        configure(_rezip(bundle, {"index.html": None}), VALUES)
    with pytest.raises(BundleError, match="outside its root"):
        configure(_rezip(bundle, {"../evil.js": "x"}), VALUES)


def test_the_build_refuses_a_bundle_whose_token_the_minifier_folded_away(tmp_path: Path) -> None:
    build = _fake_build(tmp_path)
    main = build / "static" / "js" / "main.1a2b.js"
    main.write_text(main.read_text().replace(_token("REACT_APP_REAUTH_TTL"), "NaN"))

    with pytest.raises(frontend.FrontendBuildError, match="lost the token of REACT_APP_REAUTH_TTL"):
        frontend.package(build, "d" * 64)


def test_the_bundle_is_the_same_bytes_from_the_same_build(tmp_path: Path) -> None:
    first = frontend.package(_fake_build(tmp_path / "a"), "d" * 64)
    second = frontend.package(_fake_build(tmp_path / "b"), "d" * 64)

    assert first == second
    assert json.loads(zipfile.ZipFile(io.BytesIO(first)).read(METADATA_NAME))["placeholders"] == frontend.PLACEHOLDERS


def _fake_source(root: Path) -> Path:
    (root / "frontend" / "src").mkdir(parents=True)
    (root / "frontend" / "package.json").write_text('{"name": "data.all"}')
    (root / "frontend" / "yarn.lock").write_text("# yarn lockfile v1\n")
    (root / "frontend" / "src" / "index.js").write_text("render()")
    (root / "config.json").write_text("{}")
    (root / "version.json").write_text('{"version": "2.9.0"}')
    return root


def test_the_cache_is_hit_on_an_unchanged_frontend_and_missed_on_a_changed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frontend, "_node_major", lambda: "20")
    builds: list[str] = []

    def fake_build(source: Path, cache: Path, digest: str, log: Path | None, *, custom_auth: bool = False) -> bytes:
        builds.append(digest)
        return f"bundle of {digest}".encode()

    monkeypatch.setattr(frontend, "_build", fake_build)
    source = _fake_source(tmp_path / "source")
    cache = tmp_path / "cache"

    first = frontend.build(source, cache)
    (source / "frontend" / "node_modules" / "x").mkdir(parents=True)  # what a build leaves: not the source
    (source / "frontend" / "node_modules" / "x" / "index.js").write_text("x")
    (source / "frontend" / "src" / "generated").mkdir()
    (source / "frontend" / "src" / "generated" / "config.json").write_text("{}")
    again = frontend.build(source, cache)
    (source / "frontend" / "src" / "index.js").write_text("render(changed)")
    changed = frontend.build(source, cache)
    (source / "version.json").write_text('{"version": "2.9.1"}')
    version_changed = frontend.build(source, cache)

    assert (first.cached, again.cached, changed.cached, version_changed.cached) == (False, True, False, False)
    assert again.data == first.data and again.digest == first.digest
    assert len(set(builds)) == 3
    # the web UI of a custom auth provider is another build of the same source, cached under its own key
    custom_auth = frontend.build(source, cache, custom_auth=True)
    assert not custom_auth.cached and custom_auth.digest not in builds[:3] and frontend.build(source, cache).cached
    assert frontend.build(source, cache, custom_auth=True).cached and len(set(builds)) == 4


def test_a_custom_auth_bundle_takes_the_providers_values_and_none_of_cognitos() -> None:
    # data.all's frontend_config.py with custom_auth: REACT_APP_CUSTOM_AUTH_* in place of REACT_APP_COGNITO_*
    env = frontend.env_file(custom_auth=True)
    names = {line.split("=", 1)[0] for line in env.splitlines()}
    assert set(frontend.CUSTOM_AUTH) <= names and not any(name.startswith("REACT_APP_COGNITO_") for name in names)
    assert {"REACT_APP_GRAPHQL_API", "REACT_APP_SEARCH_API", "REACT_APP_REAUTH_TTL"} <= names
    assert "REACT_APP_CUSTOM_AUTH" not in frontend.env_file()
    assert frontend.placeholders(custom_auth=True)["REACT_APP_CUSTOM_AUTH_SCOPES"] == "__DATAALL_CUSTOM_AUTH_SCOPES__"


def test_the_recipe_is_part_of_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontend, "_node_major", lambda: "20")
    source = _fake_source(tmp_path)
    before = frontend.source_digest(source)
    monkeypatch.setattr(frontend, "YARN_VERSION", "1.22.23")

    assert frontend.source_digest(source) != before


def test_a_tree_without_data_alls_frontend_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontend, "_node_major", lambda: "20")
    with pytest.raises(frontend.FrontendBuildError, match=r"no data\.all frontend"):
        frontend.source_digest(tmp_path)


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_every_react_app_value_data_all_reads_is_a_placeholder_fixed_or_left_unset(version: str) -> None:
    source = UPSTREAM / version / "source"
    read = set()
    for path in (source / "frontend" / "src").rglob("*.js"):
        read |= set(re.findall(r"process\.env\.(REACT_APP_[A-Z_]+)", path.read_text()))
    config = (source / "deploy" / "configs" / "frontend_config.py").read_text()
    written = set(re.findall(r"^(REACT_APP_[A-Z_]+)=", config, re.M))
    ours = set(frontend.PLACEHOLDERS) | set(frontend.FIXED)

    assert read <= ours | set(frontend.UNSET), sorted(read - ours - set(frontend.UNSET))
    assert written - set(frontend.UNSET) <= ours  # what data.all's pipeline writes for a Cognito installation
    assert not ours & set(frontend.UNSET)


def _manifest(**extra: object) -> dict[str, object]:
    stage = {
        "name": "vpc",
        "template": "blueprints/vpc.template.json",
        "parameters": {},
        "depends_on": [],
        "stateful": False,
        "timeout": 600,
        "outputs": [],
    }
    document: dict[str, object] = {
        "format": 1,
        "name": "dataall",
        "version": "2.9.0",
        "options": {},
        "stages": [stage],
        "actions": [],
        "files": {"blueprints/vpc.template.json": "0" * 64, f"assets/{'a' * 64}.zip": "a" * 64},
    }
    document.update(extra)
    return document


def test_the_manifest_names_the_sites_bundle_among_its_files() -> None:
    manifest = Manifest.from_document(_manifest(site={"bundle": f"assets/{'a' * 64}.zip"}))

    assert manifest.site_bundle == f"assets/{'a' * 64}.zip"
    assert Manifest.from_document(_manifest()).site_bundle is None


def test_a_site_bundle_that_is_not_a_release_file_is_refused() -> None:
    with pytest.raises(ManifestError, match=rf"site's bundle assets/{'b' * 64}\.zip is not in files"):
        Manifest.from_document(_manifest(site={"bundle": f"assets/{'b' * 64}.zip"}))
    with pytest.raises(ManifestError, match=r"site\.bundle: 'index\.html' does not match"):
        Manifest.from_document(_manifest(site={"bundle": "index.html"}))
