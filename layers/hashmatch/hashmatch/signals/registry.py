"""The signal registry: the one place the rest of the system learns which signals exist.

Everything that lists signals asks the registry when it runs, never at import: exact and near
lists, threshold defaults and bounds, hash-list parsing by length and by other systems' names, the
indexes the matcher keeps and snapshots, and the notification schema's signal enum. Registering a
signal class (`SIGNALS.register(MySignal())`) is all it takes to add one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hashmatch.signals.base import ContentType, FileSignal, MatchKind, PictureSignal, SignalType

__all__ = ["SignalRegistry", "UnknownSignal"]


class UnknownSignal(ValueError):
    """A signal name (or alias) no registered signal has."""


class SignalRegistry:
    """Signal types by name, in registration order, with their aliases."""

    def __init__(self) -> None:
        self._by_name: dict[str, SignalType] = {}
        self._by_alias: dict[str, str] = {}

    def register(self, signal: SignalType) -> SignalType:
        """Add `signal`; raises ValueError when its name or an alias is taken."""
        names = (signal.name, *signal.aliases)
        taken = [name for name in names if name in self._by_name or name in self._by_alias]
        if taken:
            raise ValueError(f"signal names already registered: {', '.join(taken)}")
        self._by_name[signal.name] = signal
        for alias in signal.aliases:
            self._by_alias[alias] = signal.name
        return signal

    def unregister(self, name: str) -> None:
        signal = self._by_name.pop(name)
        for alias in signal.aliases:
            self._by_alias.pop(alias, None)

    @contextmanager
    def registered(self, signal: SignalType) -> Iterator[SignalType]:
        """`signal` registered for the `with` block only."""
        self.register(signal)
        try:
            yield signal
        finally:
            self.unregister(signal.name)

    def get(self, name: str) -> SignalType:
        """The signal called `name` or known by it as an alias; raises `UnknownSignal` naming the known ones."""
        canonical = self._by_alias.get(name, name)
        try:
            return self._by_name[canonical]
        except KeyError:
            raise UnknownSignal(f"unknown signal {name!r}; known: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._by_name or name in self._by_alias)

    def __iter__(self) -> Iterator[SignalType]:
        return iter(list(self._by_name.values()))

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def hash_signals(self) -> tuple[SignalType, ...]:
        """Signals with a single-hash text form: those a notification's `signals` object may hold."""
        return tuple(s for s in self if s.hex_length is not None)

    def exact(self) -> tuple[SignalType, ...]:
        return tuple(s for s in self if s.match is MatchKind.EXACT)

    def indexed(self) -> tuple[SignalType, ...]:
        """Near signals the matcher keeps an index for, in registration order."""
        return tuple(s for s in self if s.match is MatchKind.NEAR and s.index_spec() is not None)

    def file_signals(self) -> tuple[FileSignal, ...]:
        return tuple(s for s in self if isinstance(s, FileSignal))

    def picture_signals(self) -> tuple[PictureSignal, ...]:
        return tuple(s for s in self if isinstance(s, PictureSignal))

    def applying_to(self, content: ContentType) -> tuple[SignalType, ...]:
        return tuple(s for s in self if content in s.applies_to)

    def by_hex_length(self, length: int) -> tuple[SignalType, ...]:
        """Signals whose text form has `length` digits: one means a bare hash names its signal."""
        return tuple(s for s in self.hash_signals() if s.hex_length == length)

    def parse(self, name: str, value: str) -> tuple[str, str]:
        """(canonical signal name, normalised value); raises `UnknownSignal` or ValueError."""
        signal = self.get(name.strip().lower())
        return signal.name, signal.parse(value)
