"""Option schemas of registered backends (vcm.registry.Option) and their checks."""

import math
import os

import pytest

from vcm.errors import VcmError
from vcm.registry import Option, Registry, option_problems


@pytest.mark.parametrize("option, value, problem", [
    (Option(int, low=1), True, "must be a whole number, got True"),
    (Option(int, low=1), 2.0, "must be a whole number, got 2.0"),
    (Option(int, low=1), 0, "must be at least 1, got 0"),
    (Option(int, high=5), 6, "must be at most 5, got 6"),
    (Option(int, multiple_of=32), 300, "must be a multiple of 32, got 300"),
    (Option(float), math.inf, "must be a finite number, got inf"),
    (Option(float), "1", "must be a number, got '1'"),
    (Option(float, above=0.0), 0, "must be greater than 0, got 0"),
    (Option(str, choices=("a", "b")), "c", "must be one of a, b; got 'c'"),
    (Option(str, pattern=r"cuda(:[0-9])?", help="cuda or cuda:N"), "cuda:x",
     "must look like cuda or cuda:N, got 'cuda:x'"),
    (Option(int, low=0, length=2), [1], "must be a list of 2 values, got [1]"),
    (Option(int, low=0, length=2), [1, -1], "must be at least 0, got -1 (in [1, -1])"),
    (Option(os.PathLike), 5, "must be a path, got 5"),
    (Option(bool), None, "must not be empty (null)"),
])
def test_an_option_names_what_is_wrong(option, value, problem):
    assert option.problem(value) == problem


@pytest.mark.parametrize("option, value", [
    (Option(int, low=1, high=4), 4), (Option(float, above=0.0), 1), (Option(bool), False),
    (Option(int, optional=True), None), (Option(int, low=0, length=2), (8, 8)),
    (Option(os.PathLike), "seq/gt"),
])
def test_an_option_accepts_what_it_declares(option, value):
    assert option.problem(value) is None


def test_a_long_value_is_cut_short_in_the_message():
    problem = Option(int).problem("x" * 1000)
    assert problem.endswith("...") and len(problem) < 100


def test_registry_checks_options_before_building():
    registry = Registry("widget")
    built = []

    @registry.register("w")
    class Widget:
        option_schema = {"size": Option(int, low=1)}

        def __init__(self, *, size=1):
            built.append(size)

    assert registry.build("w", size=3) and built == [3]
    with pytest.raises(VcmError, match="widget w: option size must be at least 1, got 0; "
                                       "unknown option 'colour'; its options are: size"):
        registry.build("w", size=0, colour="red")
    assert built == [3]
    assert registry.option_problems("w", ["size"]) == [
        "options must be a mapping of name: value, got ['size']"]
    assert option_problems({}, {"a": 1}) == ["unknown option 'a'; it takes none"]
