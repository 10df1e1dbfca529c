"""The data-loss guard through whole runs (`make test-slow`; the default tier's sample is in
test_refused_runs.py, which shares its install).

An option that removes the search domain (`OpenSearchServerless`: the domain's stage swaps it
for a collection; a Remove of an AWS::OpenSearchService::Domain): Plan refuses the redeploy
naming the stage, the resource and its type, changing nothing, and lets it through when
`allow_replacement` names exactly that resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from installer.aws import Aws
from tests.sandbox.conftest import Outcome, deploy, run
from tests.sandbox.test_refused_runs import stacks

pytestmark = pytest.mark.xdist_group("plan")


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Any) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


@pytest.mark.slow
def test_an_option_removing_the_search_domain_is_refused_and_passes_when_allowed(aws: Aws, installed: Outcome) -> None:
    document: dict[str, Any] = {"action": "redeploy", "options": {"OpenSearchServerless": True}}
    before = stacks(aws)

    refused_run = run(aws, installed, document)

    assert refused_run["status"] == "REFUSED"
    reason = refused_run["error"]["reason"]
    assert "stage opensearch" in reason and "AWS::OpenSearchService::Domain" in reason and "removed" in reason
    assert stacks(aws) == before
    domain = reason.split("stage opensearch: ", 1)[1].split(" ", 1)[0]

    allowed = run(aws, installed, {**document, "allow_replacement": [f"opensearch/{domain}"]})

    assert allowed["status"] == "SUCCEEDED", allowed["error"]
    current = installed.reader.ledger.current_release()
    assert current is not None and current.options["OpenSearchServerless"] is True
