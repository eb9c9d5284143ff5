"""Shared machinery of the agent selectors: the base agents, the picks, teaching only the picked
replicates of a base, state and clones.

A selector is a learner-like object (what the runner's ``Agent.learner`` holds and clones per
run) that owns whole base agents, each a learner and a policy over the same design.
:class:`~regretlab.policies.selection.ChosenAgent` is the thin policy that asks it for the
step's actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_choice, check_finite, check_int, float_array
from regretlab.base import Choice, Event
from regretlab.learners._replicates import restore_unpicked

_META = "meta:"


def _split(name: str, base: Any) -> tuple[Any, Any]:
    """``(learner, policy)`` of one base: a pair, or an object with ``learner`` and ``policy``
    (such as :class:`~regretlab.simulate.Agent`)."""
    if isinstance(base, tuple | list) and len(base) == 2:
        learner, policy = base
    elif hasattr(base, "learner") and hasattr(base, "policy"):
        for attr in ("features", "scheduler"):
            if getattr(base, attr, None) is not None:
                raise ValueError(
                    f"bases[{name!r}]: a base agent must have {attr}=None (the bases share the "
                    f"selector's design and are taught by it), got {getattr(base, attr)!r}"
                )
        learner, policy = base.learner, base.policy
    else:
        raise TypeError(
            f"bases[{name!r}] must be a (learner, policy) pair or an Agent, got {base!r}"
        )
    if not callable(getattr(policy, "select", None)):
        raise TypeError(f"bases[{name!r}]: policy must have a select() method, got {policy!r}")
    if learner is not None:
        for method in ("learn_one", "predict_one", "clone"):
            if not callable(getattr(learner, method, None)):
                raise TypeError(f"bases[{name!r}]: learner has no {method}(); got {learner!r}")
    return learner, policy


class AgentSelector:
    """Base class of :class:`Corral` and :class:`RegretBalancing` (not public): whole agents
    over one design, one picked per replicate and step; only the picked one learns."""

    def __init__(self, bases: Any, n_replicates: int | None = None, teach: str = "picked") -> None:
        self.bases = bases
        self._teach_all = check_choice("teach", teach, ("picked", "all")) == "all"
        if isinstance(bases, Mapping):
            items = [(str(k), v) for k, v in bases.items()]
        elif isinstance(bases, Sequence) and not isinstance(bases, str):
            items = [(str(getattr(b, "name", i)), b) for i, b in enumerate(bases)]
        else:
            raise TypeError(
                f"bases must be a mapping {{name: (learner, policy)}} or a sequence of Agents, "
                f"got {type(bases).__name__}"
            )
        if len(items) < 2:
            raise ValueError(f"bases must hold at least 2 base agents, got {len(items)}")
        self.names = [n for n, _ in items]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"bases must have unique names, got {self.names}")
        pairs = [_split(n, b) for n, b in items]
        self._learners = [learner for learner, _ in pairs]
        self._policies = [policy for _, policy in pairs]
        counts = {getattr(m, "n_replicates", None) for m in self._learners if m is not None}
        if len(counts) > 1:
            given = [getattr(m, "n_replicates", None) for m in self._learners]
            raise ValueError(f"bases must share n_replicates, got {given}")
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
            if counts and counts != {n_replicates}:
                raise ValueError(
                    f"n_replicates={n_replicates} does not match the base learners' {counts}"
                )
        self.n_replicates: int | None = counts.pop() if counts else n_replicates
        actions = {getattr(m, "n_actions", None) for m in self._learners if m is not None}
        if len(actions) > 1:
            raise ValueError(f"bases must share n_actions (per-action learners), got {actions}")
        self.n_actions: int | None = actions.pop() if actions else None
        if self.n_replicates is not None:
            for n, m in zip(self.names, self._learners, strict=True):
                if m is not None and not callable(getattr(m, "get_state", None)):
                    raise TypeError(
                        f"bases[{n!r}]: with n_replicates the learner needs get_state() and "
                        "set_state() to teach only the picked replicates"
                    )
        self._lead: tuple[int, ...] = () if self.n_replicates is None else (self.n_replicates,)
        self._m = len(items)
        self._picks: np.ndarray | None = None
        self._counts = np.zeros((self._m, *self._lead))
        self._leader = np.zeros(self._lead, dtype=int)
        self._step = 0
        self._events: list[Event] = []

    # -- what subclasses provide ------------------------------------------------------------

    def _pick(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The step's base per replicate and the probability it had, each ``lead``-shaped."""
        raise NotImplementedError

    def _update(self, rewards: np.ndarray) -> None:
        """Learn the picked bases' rewards (``self._picks`` is set)."""
        raise NotImplementedError

    def _leading(self) -> np.ndarray:
        """The base each replicate currently leans to (for events)."""
        raise NotImplementedError

    def _own_state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _set_own_state(self, state: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _weights(self) -> np.ndarray:
        """``(M, ...)`` weights of the bases' predictions in :meth:`predict_one`."""
        raise NotImplementedError

    # -- the runner's calls ------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        for m in self._learners:
            if m is not None and hasattr(m, "n_features"):
                return int(m.n_features)
        raise AttributeError("no base learner has n_features")

    @property
    def base_learners(self) -> list[Any]:
        """The base agents' learners, in the order of :attr:`names` (``None`` for a model-free
        base); the selector teaches them, callers only read them."""
        return list(self._learners)

    @property
    def picks(self) -> np.ndarray | None:
        """The base each replicate picked at the last :meth:`select` (``None`` once the step
        is learned)."""
        return None if self._picks is None else self._picks.copy()

    @property
    def pick_counts(self) -> np.ndarray:
        """How often each base was picked, ``(M, R)`` (``(M,)`` for one stream)."""
        return self._counts.copy()

    def select(
        self,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        """Pick a base per replicate and return the action of its policy.

        Every base's policy chooses (so a base's draws do not depend on the picks); the
        returned probability is that of the pair (base, action): the selector's probability of
        the base times the base policy's probability of its action, ``None`` when a picked
        base's policy does not report one.
        """
        picks, pick_probability = self._pick(rng)
        mask = {} if available is None else {"available": available}
        choices = [
            policy.select(learner, designs, rng, step=step, means=means, **mask)
            for learner, policy in zip(self._learners, self._policies, strict=True)
        ]
        actions = np.stack([np.asarray(c.actions) for c in choices])
        chosen = np.take_along_axis(actions, picks[None], axis=0)[0]
        probability = None
        if all(c.probability is not None for c in choices):
            base_p = np.stack([np.broadcast_to(c.probability, picks.shape) for c in choices])
            probability = pick_probability * np.take_along_axis(base_p, picks[None], axis=0)[0]
        self._picks = picks
        return Choice(chosen, probability)

    def learn_one(self, x: Any, y: Any, *, action: Any = None) -> AgentSelector:
        """Teach the step's reward ``y`` to the bases picked by the last :meth:`select`, each
        only in the replicates that picked it (every base, with ``teach="all"``), and update
        the selector."""
        if self._picks is None:
            raise ValueError(
                "learn_one needs the picks of a select() in the same step: a selector is taught "
                "by run_bandit after its ChosenAgent policy chose"
            )
        y_arr = float_array("y", y)
        if y_arr.shape != self._lead:
            raise ValueError(f"y must have shape {self._lead}, got {y_arr.shape}")
        check_finite("y", y_arr)
        kwargs = {} if action is None else {"action": action}
        for i, learner in enumerate(self._learners):
            mask = np.ones_like(self._picks, dtype=bool) if self._teach_all else self._picks == i
            if learner is None or not mask.any():
                continue
            if mask.all():
                learner.learn_one(x, y, **kwargs)
                continue
            before = learner.get_state()
            learner.learn_one(x, y, **kwargs)
            owner = f"bases[{self.names[i]!r}]"
            learner.set_state(restore_unpicked(owner, mask, learner.get_state(), before))
        self._step += 1
        np.add.at(self._counts, (self._picks, *np.indices(self._lead)), 1.0)
        self._update(y_arr)
        self._picks = None
        self._record_leader()
        return self

    def _record_leader(self) -> None:
        leader = self._leading()
        changed = np.flatnonzero(np.atleast_1d(leader != self._leader))
        old, new = np.atleast_1d(self._leader), np.atleast_1d(leader)
        self._events.extend(
            Event(int(r), self._step, "base", float(old[r]), float(new[r])) for r in changed
        )
        self._leader = leader

    def pop_events(self) -> list[Event]:
        """Changes of each replicate's leading base since the last call, as events of the
        group ``"base"`` (``old``/``new`` are positions in :attr:`names`)."""
        out, self._events = self._events, []
        return out

    def predict_one(self, x: Any) -> Any:
        """The bases' predictions weighted by :meth:`_weights` (learner-less bases left out)."""
        w = self._weights()
        keep = [i for i, m in enumerate(self._learners) if m is not None]
        preds = np.stack([np.asarray(self._learners[i].predict_one(x), dtype=float) for i in keep])
        w = w[keep] / np.maximum(w[keep].sum(axis=0), 1e-300)
        w = w.reshape(w.shape + (1,) * (preds.ndim - w.ndim))
        out = (w * preds).sum(axis=0)
        return float(out) if out.ndim == 0 else out

    def get_state(self) -> dict[str, np.ndarray]:
        """The selector's arrays (prefixed ``meta:``) and every base learner's state."""
        state = {f"{_META}{k}": v for k, v in self._own_state().items()}
        state[f"{_META}counts"] = self._counts.copy()
        state[f"{_META}leader"] = self._leader.copy()
        state[f"{_META}step"] = np.asarray(self._step)
        for i, learner in enumerate(self._learners):
            if learner is not None:
                state |= {f"base{i}:{k}": v for k, v in learner.get_state().items()}
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> AgentSelector:
        """Restore what :meth:`get_state` returned."""
        own = {k[len(_META) :]: v for k, v in state.items() if k.startswith(_META)}
        for key in ("counts", "leader", "step"):
            if key not in own:
                raise ValueError(f"state has no {_META}{key!r}")
        counts = np.asarray(own.pop("counts"), dtype=float)
        if counts.shape != self._counts.shape:
            raise ValueError(f"state['meta:counts'] must have shape {self._counts.shape}")
        leader = np.asarray(own.pop("leader")).astype(int).reshape(self._lead)
        step = int(own.pop("step"))
        self._set_own_state(own)
        for i, learner in enumerate(self._learners):
            if learner is not None:
                prefix = f"base{i}:"
                learner.set_state(
                    {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                )
        self._counts = counts.copy()
        self._leader, self._step = leader, step
        self._picks = None
        return self

    def _cloned_bases(self) -> Any:
        def one(base: Any) -> Any:
            if isinstance(base, tuple | list):
                learner, policy = base
                return (None if learner is None else learner.clone(), policy)
            import dataclasses

            learner = None if base.learner is None else base.learner.clone()
            return dataclasses.replace(base, learner=learner)

        if isinstance(self.bases, Mapping):
            return {k: one(v) for k, v in self.bases.items()}
        return [one(b) for b in self.bases]
