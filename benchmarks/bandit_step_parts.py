"""Where a Thompson sampling step goes (issue 19): the agent alone, part by part, at R = 1000.

The cases of ``bandit_throughput.py`` (``shared_ts``: one ``BayesianLinearRegression`` over
``ActionFeatures``, d = 36, K = 5; ``disjoint_ts``: ``DisjointBayesianLinearRegression`` on
``[1, x]``, d = 6), on the steps generated beforehand, stepped as ``run_bandit`` steps them but
with the parts timed separately (CPU time, summed over the steps; the first step's fresh
factorisation included): the design rows, ``policy.select`` (shared: of which the draw of the
weights, i.e. the normals and the kept factor's step for the last learned row; per-action: of
which the predictive means and sds), the chosen rows and ``learn_one`` (shared: of which the
statistics' blocked fold it triggers).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bandit_step_parts.py
    REGRETLAB_NUMBA=0 OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bandit_step_parts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bandit_throughput as bt
from regretlab.simulate.agents import prepare_agents

R = bt.R
SUB = "  of which"
# The parts in the order printed, each followed by the parts timed inside it.
INSIDE = {
    "design rows": (),
    "policy.select": ("the draw (normals, factor step)", "the predictive means, sds"),
    "chosen rows": (),
    "learn_one": ("the statistics' fold",),
}


def parts(case: str) -> dict[str, float]:
    """Seconds per part over the case's horizon."""
    horizon = bt.HORIZON[case]
    env, agent = bt._make(case, horizon)
    replay = bt._replay(case, env)
    _, learners, maps, _ = prepare_agents([agent], env)
    learner, fm, policy = learners[0], maps[0], agent.policy
    block = next(replay.blocks())
    context, rewards = (np.ascontiguousarray(np.moveaxis(a, 1, 0)) for a in block[:2])
    rows, rng = np.arange(R), np.random.default_rng(5)
    spent: dict[str, float] = {}
    clock = time.process_time

    def timed(name: str, method: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            out = method(*args, **kwargs)
            spent[name] = spent.get(name, 0.0) + clock() - began
            return out

        return run

    if getattr(learner, "n_actions", None) is None:  # shared: its draw, its statistics' fold
        learner.sample = timed(f"{SUB} the draw (normals, factor step)", learner.sample)
        learner._fold = timed(f"{SUB} the statistics' fold", learner._fold)
    else:
        learner.predict_one = timed(f"{SUB} the predictive means, sds", learner.predict_one)
    for t in range(horizon):
        began = clock()
        design = fm.transform(context[t])
        shared = design.ndim == 3
        designs = design if shared else np.broadcast_to(
            design[:, None, :], (R, env.n_actions, design.shape[-1]))  # fmt: skip
        spent["design rows"] = spent.get("design rows", 0.0) + clock() - began
        actions = timed("policy.select", policy.select)(learner, designs, rng, step=t + 1).actions
        began = clock()
        chosen = designs[rows, actions] if shared else design
        spent["chosen rows"] = spent.get("chosen rows", 0.0) + clock() - began
        reward = rewards[t][rows, actions]
        kwargs = {} if shared else {"action": actions}
        timed("learn_one", learner.learn_one)(chosen, reward, **kwargs)
    return spent


def main() -> None:
    for case in ("shared_ts", "disjoint_ts"):
        parts(case)  # compile outside the timing
        spent = parts(case)
        horizon = bt.HORIZON[case]
        total = sum(v for k, v in spent.items() if not k.startswith(SUB))
        print(f"{case} (R = {R}, T = {horizon}): {1e3 * total / horizon:.3f} ms a step, "
              f"{R * horizon / total:,.0f} replicate-steps/s (CPU time)")  # fmt: skip
        for part, inner in INSIDE.items():
            for name in (part, *(f"{SUB} {name}" for name in inner)):
                if name in spent:
                    share = spent[name] / total
                    print(f"  {name:42s} {1e3 * spent[name] / horizon:7.3f} ms  {share:5.0%}")


if __name__ == "__main__":
    main()
