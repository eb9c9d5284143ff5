"""regretlab: simulate sequential decision loops and measure cumulative regret."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version is read on first use: importlib.metadata costs as much as a core subpackage.
    if name != "__version__":
        raise AttributeError(f"module 'regretlab' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("regretlab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"
