"""The site's URL as `status` and a SUCCEEDED `deploy` give it (`installer.cli._site`), and the
run's report naming why its site step did nothing (`installer.operations.result_document`).

In AWS the URL is the distribution's domain name, read from CloudFront's API (in us-east-1, a
global service: https://docs.aws.amazon.com/general/latest/gr/cf_region.html); in a sandbox it is
the local URL the sandbox's control route `sites/<distribution id>` gives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from moto import mock_aws

from installer.aws import Aws
from installer.cli import _site, _site_line
from installer.operations import RunView, StageView, result_document
from lambdas.data.records import StepRecord
from lambdas.site.step import NO_BUNDLE
from tests.unit.conftest import site_distribution

BUCKET = "dataall-test-cloudfront-site-1a2b"
NOT_PUBLISHED = NO_BUNDLE.format(version="2.9.0")


class _Ledger:
    """The ledger as `_site` reads it: the installed release's run and that run's steps."""

    def __init__(self, steps: dict[str, StepRecord], installed: bool = True) -> None:
        self._steps = steps
        self._installed = installed

    def current_release(self) -> Any:
        return SimpleNamespace(run="run-1", version="2.9.0") if self._installed else None

    def steps(self, run: str) -> dict[str, StepRecord]:
        assert run == "run-1"
        return self._steps


def _published(distribution_id: str) -> dict[str, StepRecord]:
    return {
        "migrate": StepRecord(name="migrate", kind="migrate", result="MIGRATED"),
        "site": StepRecord(
            name="site", kind="site", result="PUBLISHED", distribution_id=distribution_id, site_bucket=BUCKET
        ),
    }


def test_without_an_installed_release_or_a_site_action_there_is_no_site_line() -> None:
    aws = Aws(region="eu-west-1")
    no_site = {"migrate": StepRecord(name="migrate", kind="migrate", result="MIGRATED")}

    assert _site(aws, _Ledger({}, installed=False)) is None
    assert _site(aws, _Ledger(no_site)) is None
    assert _site_line(None) is None


def test_a_skipped_site_says_why_it_was_not_published() -> None:
    skipped = {"site": StepRecord(name="site", kind="site", result="SKIPPED", reason=NOT_PUBLISHED)}

    site = _site(Aws(region="eu-west-1"), _Ledger(skipped))

    assert site == {"url": None, "reason": NOT_PUBLISHED}
    assert _site_line(site) == f"site: not published: {NOT_PUBLISHED}"


def test_in_aws_the_url_is_the_distributions_domain_name_read_in_us_east_1() -> None:
    with mock_aws():
        distribution = site_distribution(f"{BUCKET}.s3.us-east-1.amazonaws.com")

        site = _site(Aws(region="eu-west-1"), _Ledger(_published(distribution["Id"])))

    assert site == {
        "url": f"https://{distribution['DomainName']}/",
        "distribution_id": distribution["Id"],
        "bucket": BUCKET,
    }
    assert distribution["DomainName"].endswith(".cloudfront.net")
    assert _site_line(site) == f"site: https://{distribution['DomainName']}/"


def test_in_aws_a_distribution_with_an_alternate_domain_name_is_served_there() -> None:
    # data.all's custom domain: the distribution's alias (https://docs.aws.amazon.com/AmazonCloudFront/latest/
    # DeveloperGuide/CNAMEs.html) is where its users go, and where Cognito calls back
    with mock_aws():
        distribution = site_distribution(f"{BUCKET}.s3.us-east-1.amazonaws.com", aliases=("dataall.example.com",))

        site = _site(Aws(region="eu-west-1"), _Ledger(_published(distribution["Id"])))

    assert site is not None and site["url"] == "https://dataall.example.com/"


@pytest.fixture
def control() -> Iterator[tuple[str, list[str]]]:
    """A sandbox's control API as `_site` asks it (health, then `sites/<id>`): its endpoint and the
    routes asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            route = self.path.removeprefix("/_sandbox/")
            answer: Any = {"status": "ok"} if route == "health" else {"url": f"http://127.0.0.1:1/{route}/"}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_in_a_sandbox_the_url_is_the_local_one_its_control_route_gives(control: tuple[str, list[str]]) -> None:
    endpoint, asked = control

    site = _site(Aws(region="eu-west-1", endpoint_url=endpoint), _Ledger(_published("E2SANDBOX0001")))

    assert site is not None and site["url"] == "http://127.0.0.1:1/sites/E2SANDBOX0001/"
    assert asked[-1] == "/_sandbox/sites/E2SANDBOX0001"
    assert _site_line(site, embedded=True) == (
        "site: http://127.0.0.1:1/sites/E2SANDBOX0001/ (served while this command's embedded sandbox runs)"
    )


def test_the_runs_report_names_why_an_action_was_skipped() -> None:
    started = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    view = RunView(
        execution_arn="arn:aws:states:eu-west-1:000000000000:execution:installer:run-1",
        run="run-1",
        status="SUCCEEDED",
        action="install",
        version="2.9.0",
        stages=[
            StageView(name="migrate", stack="", status="MIGRATED", outcome="MIGRATED", kind="action"),
            StageView(name="site", stack="", status="SKIPPED", outcome="SKIPPED", kind="action", reason=NOT_PUBLISHED),
        ],
        error=None,
        started=started,
        stopped=started,
    )

    actions = result_document(view, 10)["actions"]

    assert actions == {
        "migrate": {"status": "MIGRATED", "outcome": "MIGRATED"},
        "site": {"status": "SKIPPED", "outcome": "SKIPPED", "reason": NOT_PUBLISHED},
    }


def test_the_action_view_takes_the_reason_of_a_skipped_step_only() -> None:
    from installer.operations import RunReader

    now = datetime.now(UTC)
    skipped = StepRecord(name="site", kind="site", result="SKIPPED", reason=NOT_PUBLISHED)
    failed = StepRecord(name="site", kind="site", result="FAILED", reason="AccessDenied")

    assert RunReader._action_view("site", skipped, True, "SUCCEEDED", now).reason == NOT_PUBLISHED
    assert RunReader._action_view("site", failed, True, "FAILED", now).reason == ""


@pytest.mark.parametrize(
    ("setting", "cli_builds_it", "code_builds_it"),
    [(None, True, False), ("1", True, True), ("0", False, False)],
)
def test_the_operators_build_ships_the_web_ui_unless_told_not_to_and_a_build_in_code_does_not(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, cli_builds_it: bool, code_builds_it: bool
) -> None:
    """`make demo` (`dataall-installer deploy --sandbox`) and `dataall-installer build` build data.all's
    frontend into the release by default; the tests' releases, built in code, stay without it unless
    they ask (`site=True`), so no test tier runs yarn by accident."""
    import installer.dataall
    import installer.upstream
    from installer.cli import _build
    from installer.dataall import SITE_ENV, site_wanted

    if setting is None:
        monkeypatch.delenv(SITE_ENV, raising=False)
    else:
        monkeypatch.setenv(SITE_ENV, setting)
    asked: dict[str, Any] = {}
    monkeypatch.setattr(
        installer.upstream,
        "resolve",
        lambda path, version: SimpleNamespace(version="2.9.0", origin="the shared upstream"),
    )
    monkeypatch.setattr(installer.dataall, "build_dataall_release", lambda out, source, **kw: asked.update(kw))

    _build(Path("unused"), None, None, quiet=True)

    assert asked == {"site": cli_builds_it, "progress": None}
    assert site_wanted(default=False) is code_builds_it
    # not quiet (`make demo`, `dataall-installer build`): each web UI build and synthesis is printed as it ends
    _build(Path("unused"), None, None, quiet=False)
    assert asked["progress"] is typer.echo


def test_deploy_serve_keeps_the_embedded_sandbox_up_until_ctrl_c_then_lets_it_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`make demo DEMO_FLAGS=--serve`: the site's URL stays up after the run until Ctrl-C, which ends
    the wait (not the command: the sandbox then stops as its context closes)."""
    from installer.cli import _serve_until_interrupted

    pauses: list[int] = []

    def pause() -> None:
        pauses.append(1)
        if len(pauses) == 3:
            raise KeyboardInterrupt

    _serve_until_interrupted(pause)

    assert len(pauses) == 3
    assert "Ctrl-C stops it" in capsys.readouterr().err
