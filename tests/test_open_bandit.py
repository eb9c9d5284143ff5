"""The Open Bandit Dataset reader: columns, slots, item counts, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.offpolicy import SNIPS, read_open_bandit

HEADER = ",timestamp,item_id,position,click,propensity_score,user_feature_0\n"


def write(folder, rows, items=None, name="all.csv"):
    path = folder / name
    path.write_text(HEADER + "".join(f"{i},t,{r}\n" for i, r in enumerate(rows)))
    if items is not None:
        (folder / "item_context.csv").write_text(
            ",item_id,item_feature_0\n" + "".join(f"{i},{i},0.5\n" for i in range(items))
        )
    return path


def test_columns_map_to_a_logged_bandit(tmp_path):
    path = write(tmp_path, ["3,2,0,0.25,u", "0,1,1,0.5,u", "1,3,0,0.125,u"], items=5)
    log = read_open_bandit(path)
    assert log.n_actions == 5  # the campaign's items, from item_context.csv
    np.testing.assert_array_equal(log.actions, [[3, 0, 1]])
    np.testing.assert_array_equal(log.rewards, [[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(log.propensity, [[0.25, 0.5, 0.125]])
    # Slots 2, 1, 3 one-hot, in the file's row order.
    np.testing.assert_array_equal(log.context[0], [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    assert log.means is None
    # A uniform target on a uniform log: SNIPS is the on-policy mean.
    uniform = read_open_bandit(write(tmp_path, ["0,1,1,0.2,u", "4,2,0,0.2,u"], name="r.csv"))
    assert uniform.n_actions == 5
    pi = np.full((1, 2, 5), 0.2)
    assert float(SNIPS().estimate(uniform, pi).value[0]) == pytest.approx(0.5)


def test_without_item_file_the_largest_item_counts(tmp_path):
    assert read_open_bandit(write(tmp_path, ["6,1,0,0.5,u"])).n_actions == 7
    assert read_open_bandit(write(tmp_path, ["6,1,0,0.5,u"]), n_actions=9).n_actions == 9


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (["1,4,0,0.5,u"], "position must be 1, 2 or 3"),
        (["1,0,0,0.5,u"], "position must be 1, 2 or 3"),
        (["1,1,2,0.5,u"], "click must be 0 or 1"),
        (["1,1,0,0.0,u"], "propensit"),
        (["1,1,0,1.5,u"], "propensit"),
    ],
)
def test_bad_values_are_named(tmp_path, rows, match):
    with pytest.raises(ValueError, match=match):
        read_open_bandit(write(tmp_path, rows))


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="must be an Open Bandit Dataset CSV file"):
        read_open_bandit(tmp_path / "missing.csv")
    broken = tmp_path / "broken.csv"
    broken.write_text(",item_id,click\n0,1,0\n")
    with pytest.raises(ValueError, match=r"lacks \['position', 'propensity_score'\]"):
        read_open_bandit(broken)
    with pytest.raises(ValueError, match="n_actions"):
        read_open_bandit(write(tmp_path, ["1,1,0,0.5,u"]), n_actions=1)
    with pytest.raises(ValueError, match="action must lie in"):
        read_open_bandit(write(tmp_path, ["6,1,0,0.5,u"]), n_actions=3)
