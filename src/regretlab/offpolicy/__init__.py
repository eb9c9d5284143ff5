"""Off-policy evaluation: logged-bandit tables, estimators, and replay, checked against truth.

A simulated run logs every decision (``run_bandit(..., log_to=ParquetLog(path))``); a target
policy's value is then estimated from that log alone (direct method, IPS, self-normalised IPS,
doubly robust, switch-DR, replay), and, because the simulator knows every action's expected
reward, compared with the exact value it estimates (:func:`true_value`).
"""

from __future__ import annotations

from regretlab.offpolicy.estimators import (
    IPS,
    SNIPS,
    DirectMethod,
    DoublyRobust,
    Estimate,
    SwitchDR,
    support_deficiency,
)
from regretlab.offpolicy.evaluation import error_table, prefix, summarise_errors
from regretlab.offpolicy.logs import MemoryLog, read_log
from regretlab.offpolicy.open_bandit import read_open_bandit
from regretlab.offpolicy.parquet_log import ParquetLog
from regretlab.offpolicy.replay import ReplayEstimate, check_uniform, replay, replay_learning
from regretlab.offpolicy.reward_models import RidgeRewardModel, design_rows
from regretlab.offpolicy.table import (
    LoggedBandit,
    check_availability,
    check_propensities,
    from_frame,
    to_frame,
)
from regretlab.offpolicy.targets import check_probabilities, target_probabilities, true_value

__all__ = [
    "IPS",
    "SNIPS",
    "DirectMethod",
    "DoublyRobust",
    "Estimate",
    "LoggedBandit",
    "MemoryLog",
    "ParquetLog",
    "ReplayEstimate",
    "RidgeRewardModel",
    "SwitchDR",
    "check_availability",
    "check_probabilities",
    "check_propensities",
    "check_uniform",
    "design_rows",
    "error_table",
    "from_frame",
    "prefix",
    "read_log",
    "read_open_bandit",
    "replay",
    "replay_learning",
    "summarise_errors",
    "support_deficiency",
    "target_probabilities",
    "to_frame",
    "true_value",
]
