"""Generic checks for every role a user can supply (river's ``checks``, scikit-learn's
``check_estimator``).

Run the one for your component's role before handing it to a runner:
:func:`check_environment` (a prediction stream or a bandit), :func:`check_learner`,
:func:`check_policy`, :func:`check_scheduler` and :func:`check_selector` (an agent selector
such as :class:`~regretlab.policies.selection.Corral`). Each runs the component on small seeded data
and raises ``AssertionError`` naming the component and what it broke: shapes, determinism under
a seed, no use of the global random state, inputs left alone, pickling (process pools and dask
ship components to workers), and the role's own promises (see :mod:`regretlab.base`).
``environment_checks()``, ``learner_checks()``, ``policy_checks()`` and ``scheduler_checks()``
list the single checks; the test suite runs each over every exported component.

The policy and scheduler checks run on trained learners and an environment of their own, so
this package sits above :mod:`regretlab.environments` and :mod:`regretlab.learners`
(ARCHITECTURE.md).

Examples
--------
>>> from regretlab.checks import check_environment, check_policy
>>> from regretlab.environments import LinearBandit
>>> from regretlab.policies import Greedy
>>> check_environment(LinearBandit(horizon=20, n_replicates=2, seed=0))
>>> check_policy(Greedy())
"""

from __future__ import annotations

from regretlab.checks._environment import (
    check_environment,
    check_environment_blocks_are_fresh,
    check_environment_ignores_block_size,
    check_environment_pickles,
    check_environment_shapes,
    check_environment_uses_no_global_random,
    environment_checks,
)
from regretlab.checks._learner import (
    check_bad_input,
    check_batched_equals_single,
    check_clone_is_independent,
    check_inputs_not_mutated,
    check_learner,
    check_predict_before_learn,
    check_same_seed_same_output,
    check_state_round_trip,
    learner_checks,
)
from regretlab.checks._policy import (
    check_action_probabilities,
    check_actions_are_valid,
    check_policy,
    check_policy_honours_availability,
    check_policy_leaves_inputs_alone,
    check_policy_pickles,
    check_policy_same_seed_same_actions,
    check_policy_uses_only_its_generator,
    policy_checks,
)
from regretlab.checks._scheduler import (
    check_scheduler,
    check_scheduler_changes_are_exact,
    check_scheduler_is_deterministic,
    check_scheduler_pickles,
    check_scheduler_reports_every_change,
    check_scheduler_uses_no_global_random,
    scheduler_checks,
)
from regretlab.checks._selector import (
    check_selector,
    check_selector_pickles,
    check_selector_same_seed_same_actions,
    check_selector_state_round_trip,
    check_selector_teaches_only_the_picked,
    selector_checks,
)

__all__ = [
    "check_action_probabilities",
    "check_actions_are_valid",
    "check_bad_input",
    "check_batched_equals_single",
    "check_clone_is_independent",
    "check_environment",
    "check_environment_blocks_are_fresh",
    "check_environment_ignores_block_size",
    "check_environment_pickles",
    "check_environment_shapes",
    "check_environment_uses_no_global_random",
    "check_inputs_not_mutated",
    "check_learner",
    "check_policy",
    "check_policy_honours_availability",
    "check_policy_leaves_inputs_alone",
    "check_policy_pickles",
    "check_policy_same_seed_same_actions",
    "check_policy_uses_only_its_generator",
    "check_predict_before_learn",
    "check_same_seed_same_output",
    "check_scheduler",
    "check_scheduler_changes_are_exact",
    "check_scheduler_is_deterministic",
    "check_scheduler_pickles",
    "check_scheduler_reports_every_change",
    "check_scheduler_uses_no_global_random",
    "check_selector",
    "check_selector_pickles",
    "check_selector_same_seed_same_actions",
    "check_selector_state_round_trip",
    "check_selector_teaches_only_the_picked",
    "check_state_round_trip",
    "environment_checks",
    "learner_checks",
    "policy_checks",
    "scheduler_checks",
    "selector_checks",
]
