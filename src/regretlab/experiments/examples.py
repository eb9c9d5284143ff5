"""The example experiment files shipped inside the package (``regretlab/examples/*.toml``).

They are package data, so ``pip install regretlab`` has them too: ``regretlab example`` lists
them and ``regretlab example NAME > NAME.toml`` writes one out to edit and run.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["example_names", "example_text"]


def _folder() -> resources.abc.Traversable:
    return resources.files("regretlab").joinpath("examples")


def example_names() -> list[str]:
    """The names of the packaged example experiments, sorted (file names without ``.toml``).

    Examples
    --------
    >>> for name in example_names():
    ...     print(name)
    bandit_drift
    bandit_escalation
    glm_bandit
    multi_armed_bandit
    offpolicy
    prediction_escalation
    """
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _folder().iterdir()
        if entry.is_file() and entry.name.endswith(".toml")
    )


def example_text(name: str) -> str:
    """The TOML text of the packaged example ``name`` (one of :func:`example_names`).

    Examples
    --------
    >>> import tomllib
    >>> tomllib.loads(example_text("bandit_escalation"))["name"]
    'bandit-escalation'
    """
    names = example_names()
    key = name.removesuffix(".toml") if isinstance(name, str) else name
    if key not in names:
        raise ValueError(f"name must be one of {names}, got {name!r}")
    return _folder().joinpath(f"{key}.toml").read_text(encoding="utf-8")
