"""Fixtures shared by every tier.

Releases are built (CDK synthesized, cdk-nag checked) once for a given source tree and
shared: by every test of the session, by the xdist workers (a file lock lets one build
while the other waits), and by the next session while the sources are unchanged. The session's
`release` is the synthetic one (`tests/fixtures/synthetic`: data.all's stacks re-created small,
a test fixture that builds and installs in seconds); data.all's own release comes from
`cached_dataall_release`. The infrastructure tests read their templates, the sandbox tests
install them.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# data.all's releases in tests come from the shared cloud assemblies: no synthesis of its variants
# unless a (slow) test asks for them (`cached_dataall_release(..., variants=True)`).
os.environ.setdefault("DATAALL_INSTALLER_VARIANTS", "0")

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (
    "blueprints",
    "lambdas",
    "state_machine",
    "installer/build.py",
    "installer/dataall.py",
    "installer/grants.py",
    "installer/dataall_migrations.py",
    "tests/fixtures/synthetic",
    "cloud_assembly",
    "bootstrap_stack.py",
    "constraints.txt",
)
#: Where built releases are kept between sessions (another folder: a cold build, e.g. to time one).
CACHE = Path(os.environ.get("DATAALL_TEST_RELEASE_CACHE") or ROOT / ".cache" / "test-releases")


def source_digest(extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for source in SOURCES:
        path = ROOT / source
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(file.relative_to(ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _built_once(key: str, build: Callable[[Path], Any]) -> Any:
    """The release cached under `key`, built into its folder by `build` the first time (one
    builder at a time across test workers)."""
    from installer.build import Release

    folder = CACHE / key
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = [p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
        if built:
            return Release.load(built[0])
        return build(folder)


def cached_synthetic_release(version: str | None = None, overrides: dict[str, Any] | None = None) -> Any:
    """The synthetic release (a test fixture) built from the current sources (with CDK context
    `overrides`), built at most once."""
    from tests.fixtures.synthetic.build import build_release

    key = source_digest(json.dumps([version, overrides], sort_keys=True))
    return _built_once(key, lambda folder: build_release(folder, version, overrides=overrides))


def cached_dataall_release(version: str, *, site: bool = False, variants: bool | tuple[str, ...] = False) -> Any:
    """data.all's release at `version`, imported from the shared upstream, built at most once; with
    `site`, it ships data.all's web UI bundle (its frontend built, minutes the first time: slow tier);
    with `variants`, its variant stages (data.all's source synthesized, about a minute the first time,
    cached under ~/.cache/dataall-installer: slow tier): all (`True`) or those of the variant options
    named."""
    from installer.dataall import build_dataall_release
    from installer.upstream import resolve, shared_upstream

    chosen = ["variants"] if variants is True else [f"variants={','.join(sorted(variants))}"] if variants else []
    extra = [*(["site"] if site else []), *chosen]
    key = source_digest(json.dumps(["dataall", version, str(shared_upstream(version)), *extra]))
    return _built_once(
        key, lambda folder: build_dataall_release(folder, resolve(None, version), site=site, variants=variants)
    )


# ---------------------------------------------------------------------- the fault matrix
MATRIX = "tests/sandbox/test_fault_matrix.py::"
_matrix_outcomes: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-faults", action="store_true", help="run the whole fault matrix, not its sample")
    parser.addoption("--run-slow", action="store_true", help="run the slow end-to-end cases left out of make test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --run-faults, only the matrix's sample runs; without --run-slow, no `slow` case
    runs (the rest is deselected, not skipped)."""
    run_faults, run_slow = config.getoption("--run-faults"), config.getoption("--run-slow")
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        in_matrix = item.get_closest_marker("faults") is not None
        sampled = item.get_closest_marker("faults_sample") is not None
        left_out = (in_matrix and not sampled and not run_faults) or (
            item.get_closest_marker("slow") is not None and not run_slow
        )
        (dropped if left_out else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


#: The cyclic garbage collector's thresholds in a test process (CPython's: 700, 10, 10). A test
#: process holds most of a million objects (moto's backends and service models, the CDK's and the
#: sandbox's modules), and each full collection walked them all: a fifth of the CPU of a synthetic
#: install went to the collector. Rarer collections, and the objects made before the tests (the
#: imports, the session's sandbox) left out of them (`gc.freeze`), collect the same garbage.
GC_THRESHOLDS = (20_000, 50, 50)


def settle_collector() -> None:
    """What exists now stays: the collector no longer walks it (`gc.freeze`)."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under `--dist loadgroup`, every test marked `xdist_group` must carry its group in its node id
    (how pytest-xdist keeps a group on one worker). pytest 9.2 ignored xdist 3.8's renaming: each
    group's module fixtures (a whole install) ran on both workers."""
    gc.set_threshold(*GC_THRESHOLDS)
    settle_collector()
    config = session.config
    if not (hasattr(config, "workerinput") and config.getvalue("loadgroup")):
        return
    ungrouped = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if ungrouped:
        raise pytest.UsageError(
            f"pytest-xdist did not apply xdist_group to {len(ungrouped)} tests (e.g. {ungrouped[0]}): "
            "the pinned pytest and pytest-xdist do not work together"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid.startswith(MATRIX) and (report.when == "call" or report.outcome != "passed"):
        previous = _matrix_outcomes.get(report.nodeid)
        if previous is None or previous == "passed":
            _matrix_outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _matrix_outcomes:
        survived = sum(outcome == "passed" for outcome in _matrix_outcomes.values())
        terminalreporter.write_line(f"fault matrix: {survived} cases survived / {len(_matrix_outcomes)} cases run")


@pytest.fixture(scope="session")
def release() -> Iterator[Any]:
    """The synthetic release (`tests/fixtures/synthetic`), the fast one most tests install."""
    yield cached_synthetic_release()


@pytest.fixture(scope="session")
def bootstrap_template(release: Any) -> dict[str, Any]:
    template: dict[str, Any] = release.bootstrap_template
    return template


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Any]:
    """One sandbox per test process (moto's backends are process-wide)."""
    from installer.aws import quiet_sandbox_logs
    from sandbox.server import Sandbox

    quiet_sandbox_logs()
    box = Sandbox(scale=0.002)
    box.start()
    settle_collector()
    yield box
    box.stop()


@pytest.fixture
def sandbox(sandbox_session: Any) -> Iterator[Any]:
    """The session's sandbox, emptied for this test: no stacks, no resources, no faults.

    A request the sandbox itself failed on (HTTP 500, logged with its traceback) fails the
    test: AWS would have answered it, so what the test saw is not what AWS would show.
    """
    sandbox_session.reset()
    failures = sandbox_session.internal_failures
    yield sandbox_session
    sandbox_session.faults.clear()
    grown = sandbox_session.internal_failures - failures
    assert grown == 0, f"the sandbox failed on {grown} request(s): see the log of dataall_installer.sandbox"
