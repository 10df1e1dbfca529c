"""data.all's `config.json` modules are the release's: whoever builds it chooses them in the data.all
source tree given to `dataall-installer build --upstream`, and every part of the release made from
that tree takes them (data.all's own synthesis of its stacks, the migration function's package; the
web UI and the sandbox's image root copy the same file). Slow: one synthesis of data.all, about a
minute the first time (cached under ~/.cache/dataall-installer)."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from installer.dataall import build_dataall_release, comparable
from installer.upstream import resolve, shared_upstream

SOURCE = shared_upstream("2.9.0") / "source"
pytestmark = [
    pytest.mark.skipif(not SOURCE.is_dir(), reason="../shared/upstream/dataall/2.9.0/source is not here"),
    pytest.mark.slow,
]

#: data.all's `container.py`: `@run_if(['modules.omics.active'])` adds this scheduled ECS task.
OMICS_TASK = "omics-workflows-fetcher"


def _mentions(template: dict[str, Any], text: str) -> bool:
    return text in json.dumps(template)


def _shape(template: dict[str, Any]) -> str:
    """The template as `comparable` has it, with every release asset key the same."""
    return re.sub(r"assets/[0-9a-f]{64}\.zip", "assets/*.zip", comparable(template))


def _packaged_config(release: Any) -> dict[str, Any]:
    """The `config.json` inside the release's migration function package."""
    (package,) = [
        release.path / name
        for name in release.manifest.files
        if name.endswith(".zip") and _is_migration_package(release.path / name)
    ]
    with zipfile.ZipFile(package) as archive:
        document: dict[str, Any] = json.loads(archive.read("config.json"))
    return document


def _is_migration_package(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return "dataall_installer_migrate/handler.py" in archive.namelist()


def test_a_source_tree_with_its_own_config_json_builds_a_release_with_those_modules(tmp_path: Path) -> None:
    # Given data.all 2.9.0's source with the omics module turned on (off in data.all's config.json)
    default_config = json.loads((SOURCE / "config.json").read_text())
    assert default_config["modules"]["omics"]["active"] is False
    tree = tmp_path / "dataall"
    shutil.copytree(SOURCE, tree, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    config = json.loads((tree / "config.json").read_text())
    config["modules"]["omics"]["active"] = True
    (tree / "config.json").write_text(json.dumps(config, indent=4))

    # When the release is built from that tree (data.all's own synthesis of it) and from the shared one
    built = build_dataall_release(tmp_path / "out", resolve(tree, "2.9.0"), site=False, variants=False)
    shared = build_dataall_release(tmp_path / "shared", resolve(None, "2.9.0"), site=False, variants=False)

    # Then the ECS stage has data.all's omics task, which the release of the shared tree has not
    assert _mentions(built.template("ecs"), OMICS_TASK)
    assert not _mentions(shared.template("ecs"), OMICS_TASK)
    # and the module changes no other stack than ECS and its dashboards (the task's CPU and memory
    # widgets); code packages aside (each synthesis bundles data.all's functions anew)
    stages = [name for name, step in built.manifest.steps.items() if step.template]
    different = [n for n in stages if _shape(built.template(n)) != _shape(shared.template(n))]
    assert len(stages) == 14 and different == ["ecs", "dashboards"]
    # and the migrations run with the tree's config.json (data.all's migrations read its modules)
    assert _packaged_config(built)["modules"]["omics"]["active"] is True
    assert _packaged_config(shared)["modules"]["omics"]["active"] is False
