"""Name -> factory registries for swappable parts (detectors, codecs, pose estimators, ...)."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from vcm.errors import VcmError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a backend name to the callable that builds it.

    A new backend is one module plus one ``@REGISTRY.register("name")`` line.
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

    def build(self, name: str, **kwargs) -> T:
        return self.get(name)(**kwargs)
