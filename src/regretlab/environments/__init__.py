"""Environments that know their truth: prediction streams and (later) bandits."""

from __future__ import annotations

from regretlab.environments.interactions import InteractionStream, Observations

__all__ = ["InteractionStream", "Observations"]
