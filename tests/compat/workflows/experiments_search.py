"""Experiments: search with filters, order_by, paging and view types.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import os
import time
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

MAX_PAGES = 50


def expect_error(code: str, fn, *args, **kwargs) -> MlflowException:
    """Call fn and require an MlflowException carrying the given error code."""
    try:
        fn(*args, **kwargs)
    except MlflowException as exc:
        assert exc.error_code == code, (
            f"{fn.__name__}{args} {kwargs}: expected error {code}, got {exc.error_code}: {exc}"
        )
        return exc
    raise AssertionError(f"{fn.__name__}{args} {kwargs} succeeded, expected {code}")


def names(experiments) -> list[str]:
    return [e.name for e in experiments]


def setup(client: MlflowClient, prefix: str) -> dict[str, str]:
    ids = {}
    specs = [
        ("alpha", {"purpose": "sweep", "owner": "ana"}),
        ("beta", {"purpose": "control", "owner": "bob"}),
        ("gamma", {"purpose": "sweep", "owner": "Ana"}),
        ("Delta", {"purpose": "other"}),
        ("epsilon", {}),
    ]
    for suffix, tags in specs:
        ids[suffix] = client.create_experiment(f"{prefix}-{suffix}", tags=tags or None)
        time.sleep(0.005)  # distinct creation times
    client.delete_experiment(ids["epsilon"])
    return ids


def check_filters(client: MlflowClient, prefix: str) -> None:
    mine = f"name LIKE '{prefix}-%'"
    got = client.search_experiments(filter_string=mine)
    assert sorted(names(got)) == sorted(
        f"{prefix}-{s}" for s in ["alpha", "beta", "gamma", "Delta"]
    ), f"{mine}: {names(got)}"

    got = client.search_experiments(filter_string=f"name = '{prefix}-beta'")
    assert names(got) == [f"{prefix}-beta"], names(got)

    got = client.search_experiments(filter_string=f"{mine} AND tags.purpose = 'sweep'")
    assert sorted(names(got)) == [f"{prefix}-alpha", f"{prefix}-gamma"], names(got)

    got = client.search_experiments(filter_string=f"{mine} AND tags.purpose != 'sweep'")
    assert sorted(names(got)) == [f"{prefix}-Delta", f"{prefix}-beta"], names(got)

    # LIKE is case-sensitive, ILIKE is not
    got = client.search_experiments(filter_string=f"{mine} AND tags.owner LIKE 'an%'")
    assert names(got) == [f"{prefix}-alpha"], f"LIKE must be case-sensitive: {names(got)}"
    got = client.search_experiments(filter_string=f"{mine} AND tags.owner ILIKE 'an%'")
    assert sorted(names(got)) == [f"{prefix}-alpha", f"{prefix}-gamma"], names(got)
    got = client.search_experiments(filter_string=f"name ILIKE '{prefix.upper()}-DEL%'")
    assert names(got) == [f"{prefix}-Delta"], f"ILIKE on name: {names(got)}"

    # backticked tag key and attribute prefix
    got = client.search_experiments(filter_string=f"{mine} AND tags.`owner` = 'bob'")
    assert names(got) == [f"{prefix}-beta"], names(got)
    got = client.search_experiments(filter_string=f"attribute.name = '{prefix}-gamma'")
    assert names(got) == [f"{prefix}-gamma"], names(got)

    # numeric attribute filter on creation_time
    alpha = client.get_experiment_by_name(f"{prefix}-alpha")
    got = client.search_experiments(
        filter_string=f"{mine} AND creation_time > {alpha.creation_time - 1}"
    )
    assert f"{prefix}-alpha" in names(got), names(got)

    got = client.search_experiments(filter_string=f"name = '{prefix}-nothing'")
    assert list(got) == [], names(got)

    # the fluent API searches the same way
    got = mlflow.search_experiments(filter_string=f"{mine} AND tags.purpose = 'control'")
    assert names(got) == [f"{prefix}-beta"], names(got)

    expect_error("INVALID_PARAMETER_VALUE", client.search_experiments, filter_string="name ==")
    expect_error(
        "INVALID_PARAMETER_VALUE", client.search_experiments, filter_string="nosuchattr = 'x'"
    )


def check_order(client: MlflowClient, prefix: str) -> None:
    mine = f"name LIKE '{prefix}-%'"
    got = names(client.search_experiments(filter_string=mine, order_by=["name DESC"]))
    assert got == sorted(got, reverse=True), f"name DESC: {got}"
    got = names(client.search_experiments(filter_string=mine, order_by=["name ASC"]))
    assert got == sorted(got), f"name ASC: {got}"
    got = names(client.search_experiments(filter_string=mine, order_by=["creation_time ASC"]))
    expected = [f"{prefix}-{s}" for s in ["alpha", "beta", "gamma", "Delta"]]
    assert got == expected, f"creation_time ASC: {got}"
    # default order is creation_time DESC
    got = names(client.search_experiments(filter_string=mine))
    assert got == expected[::-1], f"default order: {got}"
    got = names(client.search_experiments(filter_string=mine, order_by=["experiment_id DESC"]))
    ids = [client.get_experiment_by_name(n).experiment_id for n in got]
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True), ids
    expect_error(
        "INVALID_PARAMETER_VALUE",
        client.search_experiments,
        filter_string=mine,
        order_by=["nosuchkey DESC"],
    )


def check_paging(client: MlflowClient, prefix: str) -> None:
    mine = f"name LIKE '{prefix}-%'"
    seen: list[str] = []
    token = None
    for _ in range(MAX_PAGES):
        page = client.search_experiments(
            filter_string=mine, max_results=1, order_by=["name ASC"], page_token=token
        )
        assert len(page) <= 1, f"max_results=1 returned {len(page)}"
        seen.extend(names(page))
        token = page.token
        if not token:
            break
    else:
        raise AssertionError("experiment paging did not terminate")
    assert seen == sorted(seen) and len(seen) == 4, f"paged result: {seen}"

    page = client.search_experiments(filter_string=mine, max_results=3, order_by=["name ASC"])
    assert len(page) == 3 and page.token, (names(page), page.token)
    rest = client.search_experiments(
        filter_string=mine, max_results=3, order_by=["name ASC"], page_token=page.token
    )
    assert names(page) + names(rest) == seen and not rest.token, (names(rest), rest.token)

    expect_error("INVALID_PARAMETER_VALUE", client.search_experiments, page_token="garbage")
    expect_error("INVALID_PARAMETER_VALUE", client.search_experiments, max_results=0)
    expect_error("INVALID_PARAMETER_VALUE", client.search_experiments, max_results=50001)


def check_view_types(client: MlflowClient, prefix: str) -> None:
    mine = f"name LIKE '{prefix}-%'"
    active = names(client.search_experiments(view_type=ViewType.ACTIVE_ONLY, filter_string=mine))
    deleted = names(client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=mine))
    both = names(client.search_experiments(view_type=ViewType.ALL, filter_string=mine))
    assert f"{prefix}-epsilon" not in active, active
    assert deleted == [f"{prefix}-epsilon"], f"DELETED_ONLY: {deleted}"
    assert sorted(both) == sorted(active + deleted), (both, active, deleted)
    client.restore_experiment(client.get_experiment_by_name(f"{prefix}-epsilon").experiment_id)
    deleted = names(client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=mine))
    assert deleted == [], f"after restore, DELETED_ONLY: {deleted}"


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    prefix = f"compat-xs-{uuid.uuid4().hex[:12]}"
    setup(client, prefix)
    check_filters(client, prefix)
    check_order(client, prefix)
    check_paging(client, prefix)
    check_view_types(client, prefix)
    print(f"experiments_search OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
