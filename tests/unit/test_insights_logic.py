"""The pure parts of insights: metric directions from names, the ``metrics`` parameter, the
threshold's bounds and the degradation verdict."""

from __future__ import annotations

import math

import pytest

from cairn.entities.errors import CairnError
from cairn.entities.insights import Direction, MetricGoal, VersionValue, guess_direction, judge
from cairn.services.insights import MAX_METRICS, check_threshold, parse_goals


@pytest.mark.parametrize(
    ("key", "direction"),
    [
        ("loss", Direction.MIN),
        ("val_loss", Direction.MIN),
        ("eval_loss", Direction.MIN),
        ("test_error", Direction.MIN),
        ("RMSE", Direction.MIN),
        ("latency_ms", Direction.MIN),
        ("train_time", Direction.MIN),
        ("perplexity", Direction.MIN),
        ("accuracy", Direction.MAX),
        ("eval_f1", Direction.MAX),
        ("auc", Direction.MAX),
        ("red_team_detection_rate", Direction.MAX),
        ("reward", Direction.MAX),
    ],
)
def test_direction_guessed_from_the_name(key: str, direction: Direction) -> None:
    assert guess_direction(key) is direction


def test_parse_goals() -> None:
    goals = parse_goals(["acc:max, loss:MIN", "f1", "acc:min", "a:b:min", " , "])
    assert goals == [
        MetricGoal("acc", Direction.MAX),
        MetricGoal("loss", Direction.MIN),
        MetricGoal("f1", Direction.MAX, guessed=True),
        MetricGoal("a:b", Direction.MIN),  # split at the last colon; the first acc stays
    ]
    assert parse_goals([]) == []


@pytest.mark.parametrize(
    "value",
    [
        ["acc:up"],
        [":max"],
        ["k" * 251],
        [",".join(f"m{i}" for i in range(MAX_METRICS + 1))],
        [3],
    ],
)
def test_parse_goals_refuses_naming_the_field(value: list[object]) -> None:
    with pytest.raises(CairnError) as caught:
        parse_goals(value)
    assert "'metrics'" in caught.value.message
    assert caught.value.http_status == 400


@pytest.mark.parametrize("bad", [-0.01, 10.5, math.nan, math.inf])
def test_threshold_bounds(bad: float) -> None:
    with pytest.raises(CairnError, match="'threshold'"):
        check_threshold(bad)
    assert check_threshold(0) == 0
    assert check_threshold(10) == 10


def _values(*pairs: tuple[int, float]) -> list[VersionValue]:
    return [VersionValue(v, x) for v, x in pairs]


def test_judge_up_and_down() -> None:
    up = MetricGoal("f1", Direction.MAX)
    verdict = judge(up, _values((1, 0.89), (2, 0.91), (3, 0.84)), 0.05)
    assert verdict is not None
    assert (verdict.best_version, verdict.newest_version, verdict.degraded) == (2, 3, True)
    assert verdict.relative_drop == pytest.approx(0.07 / 0.91)
    assert judge(up, _values((1, 0.89), (2, 0.91), (3, 0.88)), 0.05).degraded is False  # type: ignore[union-attr]
    # equal bests: the earliest is the best; the newest equal to it fell 0
    tie = judge(up, _values((1, 0.9), (2, 0.9)), 0.0)
    assert tie is not None
    assert (tie.best_version, tie.relative_drop, tie.degraded) == (1, 0.0, False)

    down = MetricGoal("loss", Direction.MIN)
    rose = judge(down, _values((1, 0.2), (2, 0.3)), 0.05)
    assert rose is not None
    assert rose.degraded is True
    assert rose.relative_drop == pytest.approx(0.5)
    # negative values: relative to the best's magnitude
    neg = judge(up, _values((1, -1.0), (2, -1.2)), 0.1)
    assert neg is not None
    assert neg.relative_drop == pytest.approx(0.2)
    assert neg.degraded is True


def test_judge_best_zero_and_empty() -> None:
    down = MetricGoal("loss", Direction.MIN)
    zero = judge(down, _values((1, 0.0), (2, 0.001)), 0.05)
    assert zero is not None
    assert zero.relative_drop is None
    assert zero.degraded is True
    assert judge(down, [], 0.05) is None
    single = judge(down, _values((4, 0.5)), 0.05)
    assert single is not None
    assert (single.best_version, single.newest_version, single.degraded) == (4, 4, False)
