"""Name -> factory registries for swappable parts (detectors, codecs, pose estimators, ...),
and the option schemas that let a registry check a backend's options without building it."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Generic, Mapping, TypeVar

from vcm.errors import VcmError, shown

T = TypeVar("T")


@dataclass(frozen=True)
class Option:
    """One keyword option of a backend: its type and the values it may take.

    Attributes:
        kind: ``int`` (a whole number, never a boolean), ``float`` (any finite number),
            ``bool``, ``str``, ``os.PathLike`` (a path given as text or a path object), or any
            other class (the value must be an instance: objects only code can pass).
        low, high: inclusive bounds of a number (``None``: unbounded).
        above: exclusive lower bound of a number (``padding`` must be > 0).
        choices: the only values allowed.
        multiple_of: a whole number must be a multiple of this.
        pattern: a text must match this regular expression in full.
        length: the value is a list or tuple of this many items, each checked as above.
        optional: ``None`` is allowed too (meaning "the backend's default").
        help: what the option does, in which units.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple | None = None
    multiple_of: int | None = None
    pattern: str | None = None
    length: int | None = None
    optional: bool = False
    help: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or ``None`` when it is."""
        if value is None:
            return None if self.optional else "must not be empty (null)"
        if self.length is not None:
            if not isinstance(value, (list, tuple)) or len(value) != self.length:
                return f"must be a list of {self.length} values, got {shown(value)}"
            for item in value:
                problem = self._item_problem(item)
                if problem:
                    return f"{problem} (in {shown(value)})"
            return None
        return self._item_problem(value)

    def _item_problem(self, value: Any) -> str | None:
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be a whole number, got {shown(value)}"
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {shown(value)}"
            if not math.isfinite(value):
                return f"must be a finite number, got {shown(value)}"
        elif self.kind is os.PathLike:
            if not isinstance(value, (str, os.PathLike)) or not str(value):
                return f"must be a path, got {shown(value)}"
        elif not isinstance(value, self.kind):
            return f"must be of type {self.kind.__name__}, got {shown(value)}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}; got {shown(value)}"
        if self.pattern is not None and not re.fullmatch(self.pattern, str(value)):
            return f"must look like {self.help or self.pattern}, got {shown(value)}"
        if self.kind in (int, float):
            if self.low is not None and value < self.low:
                return f"must be at least {self.low:g}, got {value!r}"
            if self.high is not None and value > self.high:
                return f"must be at most {self.high:g}, got {value!r}"
            if self.above is not None and not value > self.above:
                return f"must be greater than {self.above:g}, got {value!r}"
            if self.multiple_of is not None and value % self.multiple_of:
                return f"must be a multiple of {self.multiple_of}, got {value!r}"
        return None


THREADS = Option(int, low=1, high=1024, optional=True,
                 help="CPU threads (null: the library's default)")
"""A thread-count option, shared by the backends that take one."""

SEED = Option(int, low=0, high=2**32 - 1, help="random seed")
"""A random-seed option (numpy and torch take seeds below 2**32)."""

DEVICE = Option(str, pattern=r"auto|cpu|cuda(:[0-9]{1,2})?", help="auto, cpu, cuda or cuda:N")
"""A torch device option."""

FRAMES_PER_BATCH = Option(int, low=1, high=1024, help="frames per forward pass")
"""How many frames a network backend takes at once."""


def option_problems(schema: Mapping[str, Option], options: Mapping[str, Any]) -> list[str]:
    """One line per option of ``options`` that ``schema`` does not know or does not allow."""
    problems = []
    for key, value in options.items():
        if key not in schema:
            takes = f"its options are: {', '.join(sorted(schema))}" if schema else "it takes none"
            problems.append(f"unknown option {shown(key)}; {takes}")
            continue
        problem = schema[key].problem(value)
        if problem:
            problems.append(f"option {key} {problem}")
    return problems


class Registry(Generic[T]):
    """Maps a backend name to the callable that builds it.

    A new backend is one module plus one ``@REGISTRY.register("name")`` line. A backend
    declares the keyword options it takes as ``option_schema``, a dict of :class:`Option` by
    name; :meth:`check_options` checks options against it (without building anything, so
    ``vcm config`` can check a sweep before any model is loaded) and :meth:`build` does so
    before building.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name]
        except KeyError:
            raise VcmError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def schema(self, name: str) -> Mapping[str, Option] | None:
        """The option schema of ``name``, or ``None`` when its backend declares none."""
        return getattr(self.get(name), "option_schema", None)

    def option_problems(self, name: str, options: Mapping[str, Any] | None) -> list[str]:
        """One line per option of ``options`` that backend ``name`` does not take or allow."""
        options = options or {}
        if not isinstance(options, Mapping):
            return [f"options must be a mapping of name: value, got {shown(options)}"]
        schema = self.schema(name)
        if schema is None:
            return []
        return option_problems(schema, options)

    def check_options(self, name: str, options: Mapping[str, Any] | None) -> None:
        """Raise :class:`VcmError` naming every option of ``options`` that ``name`` rejects."""
        problems = self.option_problems(name, options)
        if problems:
            raise VcmError(f"{self.kind} {name}: " + "; ".join(problems))

    def build(self, name: str, **kwargs) -> T:
        self.check_options(name, kwargs)
        return self.get(name)(**kwargs)
