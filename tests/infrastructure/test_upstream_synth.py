"""data.all's source tree synthesized by the build (`installer.upstream.synthesize`): data.all's own
pinned toolchain, offline, gives the same platform as the cloud assembly made beside it.

The first run installs data.all's deploy requirements and the CDK CLI into the cache (about two
minutes); later runs take the cached assembly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from installer.dataall import import_stages
from installer.upstream import load, shared_upstream, synthesize

SOURCE = shared_upstream("2.9.0") / "source"


def _comparable(template: dict[str, Any]) -> str:
    """A template without what differs on every synthesis (README of ../shared/upstream/dataall):
    CDK's analytics metadata, the pivot role's random external id, the key of the custom
    authorizer's asset (pip writes the venv's path into its scripts' shebang lines), and the
    synthesis time data.all writes into the Cognito URLs trigger's environment
    (deploy/stacks/frontend_cognito_config.py: `'timestamp': datetime.utcnow().isoformat()`),
    with the logical id of the function's current version, which hashes it."""
    resources = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] != "AWS::CDK::Metadata" and not logical_id.startswith("dataallExternalId")
    }
    text = json.dumps({**template, "Resources": resources}, sort_keys=True)
    text = re.sub(r'"timestamp": "\d{4}-\d\d-\d\dT[\d:.]+"', '"timestamp": "*"', text)
    text = re.sub(r"CurrentVersion([0-9A-F]{8})[0-9a-f]{32}", r"CurrentVersion\1*", text)
    return re.sub(r"assets/[0-9a-f]{64}", "assets/*", text)


@pytest.mark.slow  # a synthesis (and, on a new machine, data.all's toolchain): `make test` uses ../shared's assemblies
@pytest.mark.skipif(not SOURCE.is_dir(), reason="../shared/upstream/dataall/2.9.0/source is not here")
def test_the_source_tree_synthesizes_to_the_platform_of_its_cloud_assembly() -> None:
    synthesized = import_stages(load(synthesize(SOURCE, "2.9.0")))
    shipped = import_stages(load(shared_upstream("2.9.0")))

    assert [s.name for s in synthesized.stages] == [s.name for s in shipped.stages]
    for ours, theirs in zip(synthesized.stages, shipped.stages, strict=True):
        assert _comparable(ours.template) == _comparable(theirs.template), ours.name
    assert len(synthesized.assets) == len(shipped.assets)
    assert len(set(synthesized.assets) - set(shipped.assets)) <= 1  # the custom authorizer's bundle
