"""The import-graph check that `make check` runs (`python -m tools.import_graph`)."""

from __future__ import annotations

from pathlib import Path

from tools.import_graph import circles, forbidden, graph


def test_a_circle_of_three_modules_is_found_and_a_chain_is_not() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(edges) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_code_that_runs_in_aws_may_not_import_the_operators_tools() -> None:
    edges = {"lambdas.run.planning": {"installer.build", "lambdas.data.ledger"}, "installer.cli": {"lambdas.core"}}
    assert forbidden(edges) == ["lambdas.run.planning imports installer.build"]


def test_no_room_of_the_product_imports_the_tests_but_the_benchmarks_may(tmp_path: Path) -> None:
    # Given a product room and the benchmarks each importing the synthetic release, a test fixture
    for room in ("installer", "bench", "tests", "tests/fixtures"):
        (tmp_path / room).mkdir(parents=True, exist_ok=True)
        (tmp_path / room / "__init__.py").write_text("")
    (tmp_path / "tests" / "fixtures" / "synthetic.py").write_text("VERSION = '2.8.0'\n")
    (tmp_path / "installer" / "cli.py").write_text("def build():\n    import tests.fixtures.synthetic\n")
    (tmp_path / "bench" / "install.py").write_text("from tests.fixtures.synthetic import VERSION\n")

    # When the graph is read, Then only the product's import is refused
    assert forbidden(graph(tmp_path)) == ["installer.cli imports tests.fixtures.synthetic"]
    for room in ("lambdas", "blueprints", "bootstrap_stack", "sandbox", "cloud_assembly", "installer", "app", "tools"):
        assert forbidden({f"{room}.module": {"tests.conftest"}}) == [f"{room}.module imports tests.conftest"]


def test_a_lazy_import_inside_a_function_counts(tmp_path: Path) -> None:
    (tmp_path / "lambdas").mkdir()
    (tmp_path / "lambdas" / "__init__.py").write_text("")
    (tmp_path / "lambdas" / "a.py").write_text("def f():\n    from lambdas import b\n")
    (tmp_path / "lambdas" / "b.py").write_text("from . import a\n")
    edges = graph(tmp_path)
    assert circles(edges) == [["lambdas.a", "lambdas.b"]]


def test_the_projects_own_modules_import_in_no_circle_and_only_the_rooms_below_them() -> None:
    edges = graph()

    assert circles(edges) == []
    assert forbidden(edges) == []


def test_only_the_data_access_room_imports_the_aws_sdk(tmp_path: Path) -> None:
    from tools.import_graph import aws_sdk_outside_data_access

    for room in ("lambdas", "lambdas/data", "lambdas/run"):
        (tmp_path / room).mkdir(parents=True, exist_ok=True)
        (tmp_path / room / "__init__.py").write_text("")
    (tmp_path / "lambdas" / "data" / "aws.py").write_text("import boto3\nfrom botocore.exceptions import ClientError\n")
    (tmp_path / "lambdas" / "run" / "plan.py").write_text("from botocore.exceptions import ClientError\n")

    assert aws_sdk_outside_data_access(tmp_path) == ["lambdas.run.plan imports botocore.exceptions"]
    assert aws_sdk_outside_data_access() == []
