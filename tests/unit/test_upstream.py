"""Where data.all comes from (`installer.upstream`): the order of the sources, and refusals that
name what is wrong."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from installer import upstream
from installer.upstream import UpstreamError, resolve


def assembly(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"version": "45.0.0", "artifacts": {}}))
    return folder


def test_an_explicit_upstream_comes_before_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(upstream.UPSTREAM_ENV, str(assembly(tmp_path / "from-env")))

    chosen = resolve(assembly(tmp_path / "given"), "2.9.0")

    assert chosen.origin.startswith("--upstream") and chosen.assembly.directory == tmp_path / "given"


def test_the_environment_comes_before_the_shared_upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(upstream.UPSTREAM_ENV, str(tmp_path / "release"))
    assembly(tmp_path / "release" / "cdk.out")

    chosen = resolve(None, "2.9.0")

    assert chosen.origin.startswith(upstream.UPSTREAM_ENV) and chosen.assembly.directory.name == "cdk.out"


def test_a_folder_that_is_no_upstream_is_refused_saying_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(UpstreamError, match=r"neither a cloud assembly .* nor a data.all source tree"):
        resolve(tmp_path, "2.9.0")


def test_a_version_the_installer_does_not_know_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UpstreamError, match=r"2\.7\.0 is not a release this installer knows \(2\.8\.0, 2\.9\.0\)"):
        upstream.tag_of("2.7.0")


def test_a_symlink_a_checkout_wrote_as_a_text_file_is_restored(tmp_path: Path) -> None:
    """data.all links deploy/stacks/runtime_options.py to the backend's module; git writes such a
    link as a file holding its target where symlinks are off."""
    (tmp_path / "backend" / "dataall").mkdir(parents=True)
    (tmp_path / "backend" / "dataall" / "runtime_options.py").write_text("OPTIONS = 1\n")
    (tmp_path / "deploy" / "stacks").mkdir(parents=True)
    placeholder = tmp_path / "deploy" / "stacks" / "runtime_options.py"
    placeholder.write_text("../../backend/dataall/runtime_options.py")
    (tmp_path / "deploy" / "note.txt").write_text("./missing-target")

    restored = upstream.restore_symlinks(tmp_path)

    assert restored == [placeholder] and placeholder.is_symlink() and placeholder.read_text() == "OPTIONS = 1\n"
    assert not (tmp_path / "deploy" / "note.txt").is_symlink()


def test_a_synthesis_sets_data_alls_keys_in_its_one_target_environment_and_the_top_level_context() -> None:
    settings = upstream.synth_context({"prod_sizing": False}, {"log_retention_duration": "ONE_YEAR"})

    assert settings == {
        "log_retention_duration": "ONE_YEAR",
        # deploy/app.py's default entry, with the key: data.all reads prod_sizing from it
        "DeploymentEnvironments": [
            {"envname": "dev", "account": "111111111111", "region": "eu-west-1", "prod_sizing": False}
        ],
    }
    assert upstream.synth_context(None, None) == {}  # data.all's defaults: its cdk.json as it is


def test_two_builds_wanting_one_synthesis_make_it_once_and_both_get_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build and a test worker (or two builds) synthesizing the same source at once: one synthesizes,
    the other waits for it and takes the cached assembly (before the lock, the second one's rename
    onto the first one's folder failed with ENOTEMPTY). The lock is a `flock` on a file each caller
    opens, which holds threads apart as it does processes: two threads stand for the two builds."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source = tmp_path / "source"
    (source / "deploy").mkdir(parents=True)
    (source / "deploy" / "requirements.txt").write_text("aws-cdk-lib\n")
    (source / "cdk.json").write_text("{}")
    calls = tmp_path / "calls"
    monkeypatch.setattr(upstream, "_toolchain_venv", lambda requirements: tmp_path / "venv")
    monkeypatch.setattr(upstream, "_cdk_cli", lambda: tmp_path / "cdk")

    def synth(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
        with calls.open("a") as record:
            record.write(f"{threading.get_ident()}\n")
        output = Path(command[command.index("--output") + 1])
        time.sleep(0.5)  # long enough for the other build to want it too
        (output / "manifest.json").write_text(json.dumps({"version": "45.0.0", "artifacts": {}}))
        return ""

    monkeypatch.setattr(upstream, "_run", synth)

    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda _: upstream.synthesize(source, "2.9.0"), range(2)))

    assert made[0] == made[1] and (made[0] / "manifest.json").is_file()
    assert len(calls.read_text().splitlines()) == 1
    assert [p.name for p in made[0].parent.iterdir()] == [made[0].name]  # no staging folder left
