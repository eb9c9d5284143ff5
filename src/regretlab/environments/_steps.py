"""Streams are generated in blocks of steps; iteration hands them out one step at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

Block = TypeVar("Block", bound=tuple)


def steps(blocks: Iterator[Block], single: bool) -> Iterator[Block]:
    """Split blocks into steps: drop the time axis (first when ``single``, else second)."""
    for block in blocks:
        fields = block if single else [a.swapaxes(0, 1) for a in block]
        for i in range(len(fields[0])):
            yield type(block)(*(a[i] for a in fields))
