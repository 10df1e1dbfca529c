"""A reach into moto's Step Functions interpreter that only makes the sandbox faster
(`moto_internals.cache_jsonpath_parses`), pinned: each JSONPath is parsed once, and what a
path selects is what moto's parse of it selects, with the sandbox's singleton fix."""

from __future__ import annotations

import inspect

import pytest
from jsonpath_ng.ext import parse as jsonpath_parse
from moto.stepfunctions.parser.asl.utils import json_path

from sandbox import moto_internals

DATA = {"a": [{"b": "x"}, {"b": "y"}], "c": {"d": 1}, "e": [{"f": 1}, {"f": 2}]}


def test_moto_parses_the_path_with_the_modules_parse_on_every_extract() -> None:
    """What the cache relies on (moto 5.2.5): `extract_json` (moto's, and the sandbox's in its
    place) looks `parse` up in its module's globals on every call."""
    assert "input_expr = parse(path)" in inspect.getsource(json_path)
    assert "parse" in moto_internals._aws_extract_json.__code__.co_names


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("$.a[0].b", "x"),
        ("$.a[*].b", ["x", "y"]),
        ("$.c.d", 1),
        ("$.e[?(@.f > 1)].f", [2]),
        ("$", DATA),
    ],
)
def test_a_path_parsed_once_selects_what_a_fresh_parse_selects(path: str, selected: object) -> None:
    moto_internals.fix_jsonpath_singleton()

    first = json_path.extract_json(path, DATA)
    again = json_path.extract_json(path, DATA)

    assert first == again == selected
    assert [m.value for m in json_path.parse(path).find(DATA)] == [m.value for m in jsonpath_parse(path).find(DATA)]


def test_each_path_is_parsed_once() -> None:
    moto_internals.cache_jsonpath_parses()
    moto_internals.cache_jsonpath_parses()  # twice: still one cache, not a cache of a cache

    assert json_path.parse("$.a[1].b") is json_path.parse("$.a[1].b")
    assert json_path.parse.__wrapped__ is jsonpath_parse  # type: ignore[attr-defined]
    with pytest.raises(json_path.NoSuchJsonPathError):
        json_path.extract_json("$.nope", DATA)
