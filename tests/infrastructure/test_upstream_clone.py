"""The build clones data.all's pinned tag only at its pinned commit (`installer.upstream.clone`).

Here, not in the unit tier: it runs git.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from installer import upstream
from installer.upstream import UpstreamError


def test_a_clone_whose_tag_is_not_at_the_pinned_commit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tag can be moved: the build installs only the commit the installer pinned."""
    repository = tmp_path / "dataall"
    repository.mkdir()
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "--quiet"], check=True)
    (repository / "README.md").write_text("not the release\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "moved"], check=True)
    subprocess.run([*git, "tag", "v.2.9.0"], check=True)
    monkeypatch.setattr(upstream, "REPOSITORY", str(repository))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    with pytest.raises(UpstreamError, match=r"v\.2\.9\.0 is at [0-9a-f]{40}, not the pinned e9f7d116"):
        upstream.clone("2.9.0")
    assert not list((tmp_path / "cache").rglob("README.md"))
