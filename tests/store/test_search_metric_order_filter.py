"""A search that filters on the metric it orders by (the metric is then joined once, not
looked up twice), and param/tag equality on short and long values (PostgreSQL's short-value
index): the same runs, in the same order, page by page, as a plain reading of the data.

Pages of one and two runs make SQLite answer from a window at the head of the order
(cairn.store.run_search._windowed: 8 and 64 rows per row asked for, here 8 to 192 of the 30
or 60 runs), pages of four from the plain query once the window would hold all the rest."""

from __future__ import annotations

import math

import pytest

from cairn.entities.tracking import Metric, Run, RunQuery
from cairn.services.tracking import TrackingService

LONG = "x" * 300  # longer than PostgreSQL's short-value index holds


def _fill(tracking: TrackingService) -> tuple[int, list[str], list[dict[str, object]]]:
    eid = tracking.create_experiment("order-filter")
    ids, data = [], []
    for i in range(30):
        m0 = [None, math.nan, math.inf, -1.0][i % 4] if i % 5 == 0 else (i * 7 % 11) / 10
        m1 = None if i % 3 == 0 else float(i % 4)
        p = "v3" if i % 2 else LONG
        rid = tracking.create_run(eid, start_time=1_000 + i).info.run_id
        metrics = [Metric(k, v, 1, 0) for k, v in (("m0", m0), ("m1", m1)) if v is not None]
        tracking.log_batch(rid, metrics=metrics, params=[("p", p)], tags=[("t", p)])
        ids.append(rid)
        data.append({"m0": m0, "m1": m1, "p": p, "start": 1_000 + i})
    return int(eid), ids, data


def _all_pages(tracking: TrackingService, q: RunQuery, size: int = 4) -> list[str]:
    got: list[str] = []
    token = None
    for _ in range(100):
        page = tracking.search_runs(
            RunQuery(
                q.experiment_ids, q.filter, max_results=size, order_by=q.order_by, page_token=token
            )
        )
        got += [r.info.run_id for r in page.items]
        token = page.next_page_token
        if not token:
            return got
    raise AssertionError("paging did not end")


def _expected(ids: list[str], data: list[dict[str, object]], keep: object, desc: bool) -> list[str]:
    def key(i: int) -> tuple[object, ...]:
        v = data[i]["m0"]
        rank = 2 if v is None else 1 if isinstance(v, float) and math.isnan(v) else 0
        value = 0.0 if rank else float(v)  # type: ignore[arg-type]
        return (rank, -value if desc else value, -int(data[i]["start"]), ids[i])  # type: ignore[call-overload]

    chosen = [i for i in range(len(ids)) if keep(data[i])]  # type: ignore[operator]
    return [ids[i] for i in sorted(chosen, key=key)]


def _gt(v: object, x: float) -> bool:
    return isinstance(v, float) and not math.isnan(v) and v > x


def _lt(v: object, x: float) -> bool:
    return isinstance(v, float) and not math.isnan(v) and v < x


@pytest.mark.parametrize("desc", [True, False])
@pytest.mark.parametrize(
    ("flt", "keep"),
    [
        ("metrics.m0 > 0.3 and params.p = 'v3'", lambda d: _gt(d["m0"], 0.3) and d["p"] == "v3"),
        (f"metrics.m0 >= -5 and tags.t = '{LONG}'", lambda d: _gt(d["m0"], -5) and d["p"] == LONG),
        (
            "metrics.m0 != 0.4",
            lambda d: _gt(d["m0"], -math.inf) and d["m0"] != 0.4 or d["m0"] == -math.inf,
        ),
        ("metrics.m0 > 0.3 or metrics.m1 = 2", lambda d: _gt(d["m0"], 0.3) or d["m1"] == 2.0),
        (f"metrics.m0 IS NULL and params.p IN ('v3', '{LONG}')", lambda d: d["m0"] is None),
        (
            "metrics.m0 < 0.5 and params.p IN ('v3', 'v4')",
            lambda d: _lt(d["m0"], 0.5) and d["p"] == "v3",
        ),
        (
            "metrics.m1 < 3 and metrics.m0 < 0.5",
            lambda d: (
                d["m1"] is not None
                and d["m1"] < 3
                and isinstance(d["m0"], float)
                and not math.isnan(d["m0"])
                and d["m0"] < 0.5
            ),
        ),
    ],
)
def test_filter_on_the_ordered_metric(
    tracking: TrackingService, flt: str, keep: object, desc: bool
) -> None:
    eid, ids, data = _fill(tracking)
    q = RunQuery([eid], flt, order_by=(f"metrics.m0 {'DESC' if desc else 'ASC'}",))
    expected = _expected(ids, data, keep, desc)
    assert expected  # every case matches some runs
    one: list[Run] = tracking.search_runs(RunQuery([eid], flt, order_by=q.order_by)).items
    assert [r.info.run_id for r in one] == expected
    for size in (1, 2, 4):
        assert _all_pages(tracking, q, size) == expected, size


@pytest.mark.parametrize(
    ("flt", "keep"),
    [
        (None, lambda d: True),
        ("params.p = 'v3'", lambda d: d["p"] == "v3"),
        (
            "metrics.m0 < 0.5 and tags.t != 'v3'",
            lambda d: _lt(d["m0"], 0.5) and d.get("t", d["p"]) != "v3",
        ),
        ("metrics.m1 IS NULL or params.p = 'none'", lambda d: d["m1"] is None),
        (  # three lists to choose the shortest from (SQLite: the others become EXISTS)
            "metrics.m1 >= 1 and params.p = 'v3' and tags.t != 'x'",
            lambda d: d["m1"] is not None and d["m1"] >= 1 and d["p"] == "v3",
        ),
        ("metrics.m0 = 1000", lambda d: False),
    ],
)
def test_default_order_pages_across_experiments(
    tracking: TrackingService, flt: str | None, keep: object
) -> None:
    """The default order (start_time DESC, run id) over two experiments, with start times
    shared by several runs: page by page as a plain reading."""
    eid, ids, data = _fill(tracking)
    other = int(tracking.create_experiment("other"))
    for i in range(30):
        m0 = (i * 5 % 7) / 10
        rid = tracking.create_run(str(other), start_time=1_000 + i // 3).info.run_id
        metric = [Metric("m0", m0, 1, 0)] + ([Metric("m1", 1.0, 1, 0)] if i % 2 else [])
        tracking.log_batch(rid, metrics=metric, params=[("p", "v3")], tags=[("t", str(i))])
        ids.append(rid)
        start = 1_000 + i // 3
        m1 = 1.0 if i % 2 else None
        data.append({"m0": m0, "m1": m1, "p": "v3", "t": str(i), "start": start})
    chosen = [i for i in range(len(ids)) if keep(data[i])]  # type: ignore[operator]
    expected = [ids[i] for i in sorted(chosen, key=lambda i: (-int(data[i]["start"]), ids[i]))]  # type: ignore[call-overload]
    q = RunQuery([eid, other], flt)
    assert [r.info.run_id for r in tracking.search_runs(q).items] == expected
    for size in (1, 2, 4):
        assert _all_pages(tracking, q, size) == expected, size
