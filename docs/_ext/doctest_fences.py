"""A griffe extension for the documentation site: fence doctests written outside ``Examples``.

Many docstrings show a short doctest in their description, without a numpydoc ``Examples``
heading (the doctests run in the suite either way). griffe's numpy parser only recognises
doctests inside ``Examples``; elsewhere Markdown would reflow them into a paragraph, and an
output line such as ``[100.0]`` would be read as a cross-reference. This wraps every such run
of lines (a ``>>>`` line up to the next blank line) in a ``pycon`` fence before parsing.
"""

from __future__ import annotations

from typing import Any

import griffe

_HEADING = "Examples\n--------"


def fence_doctests(text: str) -> str:
    r"""``text`` with every doctest run outside an ``Examples`` section fenced as ``pycon``.

    >>> fence_doctests("Sum.\n\n>>> 1 + 1\n2\n\nMore.").split("\n")
    ['Sum.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    head, heading, examples = text.partition(_HEADING)
    out: list[str] = []
    inside = False
    for line in head.split("\n"):
        starts = line.lstrip().startswith(">>>")
        if starts and not inside:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            inside = True
        elif inside and not line.strip():
            out.append(f"{indent}```")
            inside = False
        out.append(line)
    if inside:
        out.append(f"{indent}```")
    return "\n".join(out) + heading + examples


class DoctestFences(griffe.Extension):
    """Rewrite each docstring once, when griffe has visited its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
