"""Does the default escalation depend on where the origin of ``y`` is? (issue 16)

One stream (x_dim 4, interactions 0.5, noise 1, the seed's generator of
``escalation_family.draw``) with the intercept shifted by 0, 5 and 20: total expected regret
over T = 600 steps, R = 40 replicates, of the shared-scale rule of the first session, the
current ``ModelAveraging.recommended`` (the intercept flat in half the prior) and three fixed
flat-intercept priors. A rule that does not depend on the location of ``y`` keeps its ratio to
the fixed priors as the intercept grows.

    OPENBLAS_NUM_THREADS=1 python benchmarks/intercept_location.py     # about a minute
"""

from __future__ import annotations

import numpy as np

import escalation_family as ef
from regretlab.policies.escalation import ModelAveraging


def main() -> None:
    r, horizon = 40, 600
    for intercept in (0.0, 5.0, 20.0):
        scenario = ef.Scenario(4, 0.5, 1.0, intercept=intercept)
        fm, x, y, mean = ef.draw(scenario, r, horizon, np.random.SeedSequence(7))
        agents = {
            "shared scale (first session)": ef.AGENTS["recommended, scale 0.1..100"](fm, r),
            "recommended (intercept shared or flat)": ModelAveraging.recommended(
                fm, n_replicates=r
            ),
        }
        for main_var in (0.1, 1.0, 10.0):
            prior = {"intercept": np.inf, "main": main_var, "pairwise": 1.0}
            agents[f"fixed: flat, main {main_var:g}, pairwise 1"] = ef.nig(fm, prior, r)
        regret = dict.fromkeys(agents, 0.0)
        for t in range(horizon):
            for name, agent in agents.items():
                regret[name] += float(((agent.predict_one(x[:, t]) - mean[:, t]) ** 2).mean())
                agent.learn_one(x[:, t], y[:, t])
        best = min(v for n, v in regret.items() if n.startswith("fixed"))
        print(f"intercept {intercept:g}:")
        for name, value in regret.items():
            print(f"  {name:42s} {value:8.1f}  ({value / best:.2f}x the best fixed)")


if __name__ == "__main__":
    main()
