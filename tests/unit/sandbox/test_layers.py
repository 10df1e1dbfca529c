"""Lambda layers as the sandbox's runtime lays them out (`sandbox/layers.py`): extraction into
one folder in the function's order, scripts for Lambda's Python, the runtimes' layer paths.
No process is started and nothing is mounted here (tests/sandbox/test_layers.py runs functions)."""

from __future__ import annotations

import io
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from sandbox import layers

PACKAGING = "https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html"
LAYERS = "https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html"


def layer(
    files: dict[str, str | bytes], modes: dict[str, int] | None = None, links: dict[str, str] | None = None
) -> bytes:
    """A layer's .zip with these symbolic links, then these files (Unix modes where given)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o777 | stat.S_IFLNK) << 16
            archive.writestr(info, target)
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | stat.S_IFREG) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def test_layers_are_extracted_in_the_functions_order_a_later_one_overwriting(tmp_path: Path) -> None:
    """AWS: Lambda extracts the layers into /opt in the order the function lists them; a file of
    a later layer replaces the same file of an earlier one (LAYERS, "Layer contents" and
    https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html, layer order)."""
    first = layer({"python/shared.py": "WHO = 'first'\n", "python/only_first.py": "X = 1\n"})
    second = layer({"python/shared.py": "WHO = 'second'\n", "bin/tool": "#!/bin/sh\n"})

    folder = layers.extract(tmp_path, [first, second])

    assert (folder / "python/shared.py").read_text() == "WHO = 'second'\n"
    assert (folder / "python/only_first.py").is_file()
    assert (folder / "bin/tool").is_file()
    assert folder.parent == tmp_path / "layers"


def test_the_same_layers_share_one_folder_and_another_order_is_another(tmp_path: Path) -> None:
    """AWS: the order is part of what the function runs with (LAYERS); the sandbox extracts each
    list of layers once, keyed by their digests in order."""
    first = layer({"python/shared.py": "WHO = 'first'\n"})
    second = layer({"python/shared.py": "WHO = 'second'\n"})

    one = layers.extract(tmp_path, [first, second])
    again = layers.extract(tmp_path, [first, second])
    reversed_order = layers.extract(tmp_path, [second, first])

    assert one == again
    assert reversed_order != one
    assert (reversed_order / "python/shared.py").read_text() == "WHO = 'first'\n"
    assert sorted(path.name for path in (tmp_path / "layers").iterdir()) == sorted([one.name, reversed_order.name])


def test_a_files_unix_mode_and_a_symbolic_link_are_kept(tmp_path: Path) -> None:
    """AWS: Lambda keeps the permissions a layer's .zip records, so a program in bin/ stays
    executable (PACKAGING, "Layer paths for each Lambda runtime": bin/ is on PATH)."""
    code = layer(
        {"bin/tool": "#!/bin/sh\necho tool\n", "lib/libfoo.so.1": b"\x7fELF"},
        modes={"bin/tool": 0o755},
        links={"lib/libfoo.so": "libfoo.so.1"},
    )

    folder = layers.extract(tmp_path, [code])

    assert stat.S_IMODE((folder / "bin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "lib/libfoo.so.1").stat().st_mode) == 0o644
    assert (folder / "lib/libfoo.so").is_symlink()
    assert (folder / "lib/libfoo.so").read_bytes() == b"\x7fELF"


def test_an_entry_that_escapes_the_layer_is_refused(tmp_path: Path) -> None:
    """AWS: a layer's files land under /opt and nowhere else (LAYERS); an entry naming a path
    outside it, or one through a symbolic link pointing outside, is refused."""
    with pytest.raises(ValueError, match="escapes the layer"):
        layers.extract(tmp_path / "a", [layer({"../outside.py": "X = 1\n"})])
    outside = tmp_path / "outside"
    outside.mkdir()
    through_link = layer({"escape/owned.txt": "x"}, links={"escape": str(outside)})

    with pytest.raises(ValueError, match="escapes the layer"):
        layers.extract(tmp_path / "b", [through_link])
    assert not (outside / "owned.txt").exists()
    assert not (tmp_path / "b" / "layers").exists() or not any((tmp_path / "b" / "layers").iterdir())


def test_scripts_for_lambdas_python_are_given_this_machines(tmp_path: Path) -> None:
    """AWS: Lambda's Python runtimes are at /var/lang/bin/python3.x, and layers built for them
    (CDK's AwsCli layer: `awscli/aws`) name it in their shebang (PACKAGING); this machine has no
    /var/lang, so such a script in bin/, or any executable one, runs with this interpreter. Its
    options, its other lines and its mode stay; other scripts are left alone."""
    code = layer(
        {
            "bin/tool": "#!/var/lang/bin/python3.11 -E\nprint('tool')\n",
            "awscli/aws": "#!/var/lang/bin/python\nimport awscli\n",
            "awscli/not_executable.py": "#!/var/lang/bin/python\n",
            "bin/shell": "#!/bin/sh\necho shell\n",
        },
        modes={"awscli/aws": 0o755, "bin/shell": 0o755},
    )

    folder = layers.extract(tmp_path, [code])

    assert (folder / "bin/tool").read_text() == f"#!{sys.executable} -E\nprint('tool')\n"
    assert (folder / "awscli/aws").read_text() == f"#!{sys.executable}\nimport awscli\n"
    assert stat.S_IMODE((folder / "awscli/aws").stat().st_mode) == 0o755
    assert (folder / "awscli/not_executable.py").read_text() == "#!/var/lang/bin/python\n"
    assert (folder / "bin/shell").read_text() == "#!/bin/sh\necho shell\n"


def test_python_looks_in_python_and_its_versions_site_packages() -> None:
    """AWS: for Python runtimes a layer's modules are found in python/ and
    python/lib/python3.x/site-packages, 3.x the function's runtime (PACKAGING, "Layer paths for
    each Lambda runtime")."""
    assert layers.python_paths("/opt", "python3.12") == ["/opt/python/lib/python3.12/site-packages", "/opt/python"]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert layers.python_paths(Path("/x")) == [f"/x/python/lib/python{version}/site-packages", "/x/python"]


def test_node_looks_in_its_major_versions_node_modules_then_nodejs_node_modules() -> None:
    """AWS: for Node.js runtimes NODE_PATH holds nodejs/nodeNN/node_modules and
    nodejs/node_modules of the layers (PACKAGING, "Layer paths for each Lambda runtime")."""
    assert layers.node_paths("/opt", "nodejs22.x") == ["/opt/nodejs/node22/node_modules", "/opt/nodejs/node_modules"]
    assert layers.node_paths("/opt", None) == ["/opt/nodejs/node_modules"]


def test_bin_joins_path_and_lib_is_the_library_path() -> None:
    """AWS: every runtime has /opt/bin on PATH and /opt/lib on LD_LIBRARY_PATH (PACKAGING,
    "Layer paths for each Lambda runtime")."""
    assert layers.environment("/opt", "/usr/local/bin:/usr/bin:/bin") == {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/opt/lib",
    }


def test_the_mount_command_binds_the_folder_at_opt_and_runs_the_worker_in_the_same_process() -> None:
    """AWS: each execution environment has its own /opt (LAYERS); here a mount namespace per
    worker, the worker exec'd by `unshare` and the shell, so its process id is the one started."""
    command = layers.mount_command(Path("/work/layers/abc"), ["python", "worker.py"])

    assert command[1:5] == ["--mount", "--propagation", "private", "--"]
    assert command[5:7] == ["/bin/sh", "-c"]
    assert 'mount --bind "$0" /opt' in command[7]
    assert command[7].endswith('exec "$@"')
    assert command[8:] == ["/work/layers/abc", "python", "worker.py"]
