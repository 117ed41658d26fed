"""Searches and lists filtered by what a caller may read (a Visibility), on SQLite and
PostgreSQL: the right rows for every kind of visibility, and keyset paging that walks every
visible row exactly once with pages that are never short while more rows follow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from cairn.artifacts.uri import repository_for
from cairn.entities.access import ALL, Visibility
from cairn.entities.tracking import Dataset, Page, ViewType
from cairn.services.artifacts import ArtifactService
from cairn.services.datasets import DatasetService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.schema import experiments, registered_models
from cairn.store.visibility import condition, experiment_key, model_key, restrict

T = TypeVar("T")
SRC = "mlflow-artifacts:/1/abc/artifacts/model"
PAGE_SIZES = (1, 2, 3, 1000)


def walk(fetch: Callable[[int, str | None], Page[T]], size: int) -> list[T]:
    """Every item of a search, page by page; each page that has a next one must be full."""
    items: list[T] = []
    token: str | None = None
    for _ in range(200):
        page = fetch(size, token)
        items += page.items
        token = page.next_page_token
        if token is None:
            return items
        assert len(page.items) == size, f"short page ({len(page.items)} of {size}) mid-walk"
    raise AssertionError("paging did not end")


def experiment_cases(ids: list[str]) -> dict[str, Visibility]:
    """Visibilities over experiments (ids: those the test made, in creation order)."""
    return {
        "all": ALL,
        "deny_some": Visibility(deny_ids=frozenset({ids[1], ids[4], ids[5]})),
        "deny_unknown": Visibility(deny_ids=frozenset({"999999", "not-an-id"})),
        "allow_ids": Visibility(everything=False, allow_ids=frozenset({ids[0], ids[3], ids[6]})),
        "allow_names": Visibility(
            everything=False, allow_names=frozenset({"exp-2", "exp-5", "no-such"})
        ),
        "allow_mixed_minus_deny": Visibility(
            everything=False,
            allow_ids=frozenset({ids[0], ids[1]}),
            allow_names=frozenset({"exp-2", "exp-3"}),
            deny_ids=frozenset({ids[1], ids[3]}),
        ),
        "nothing": Visibility(everything=False),
        "junk_ids_only": Visibility(
            everything=False, allow_ids=frozenset({"abc", "-1", "", "1e3", "٣"})
        ),
    }


def model_cases() -> dict[str, Visibility]:
    """Visibilities over registered models (their ids are names; allow_names is unused)."""
    return {
        "all": ALL,
        "deny_some": Visibility(deny_ids=frozenset({"m-1", "m-4"})),
        "allow_ids": Visibility(everything=False, allow_ids=frozenset({"m-0", "m-3", "m-6"})),
        "allow_minus_deny": Visibility(
            everything=False,
            allow_ids=frozenset({"m-2", "m-3", "m-5"}),
            deny_ids=frozenset({"m-3"}),
        ),
        "allow_names_ignored": Visibility(everything=False, allow_names=frozenset({"m-2"})),
        "nothing": Visibility(everything=False),
    }


# ------------------------------------------------------------------------- the helper alone


def test_unfiltered_visibility_leaves_the_query_untouched() -> None:
    e = experiments.c
    query = select(experiments)
    for unfiltered in (ALL, Visibility(), Visibility(deny_ids=frozenset({"x", " "}))):
        assert restrict(query, unfiltered, e.experiment_id, experiment_key, e.name) is query
    rm = registered_models.c
    assert restrict(query, ALL, rm.name, model_key) is query
    filtered = restrict(
        query, Visibility(deny_ids=frozenset({"3"})), e.experiment_id, experiment_key
    )
    assert filtered is not query
    assert "NOT IN" in str(filtered)


def test_experiment_keys() -> None:
    assert [experiment_key(v) for v in ("0", "12", " 7 ")] == [0, 12, 7]
    for junk in ("", "-1", "1e3", "abc", "٣", "1.0", str(2**63)):
        assert experiment_key(junk) is None, junk
    cond = condition(Visibility(everything=False), experiments.c.experiment_id, experiment_key)
    assert cond is not None
    assert str(cond) in ("false", "0 = 1")


# ------------------------------------------------------------------------------ experiments


@pytest.fixture
def seven_experiments(tracking: TrackingService) -> list[str]:
    return [tracking.create_experiment(f"exp-{i}") for i in range(7)]


@pytest.mark.parametrize(
    ("filter_text", "order_by"),
    [(None, []), ("name LIKE 'exp-%'", ["name DESC"])],
)
def test_experiment_search_is_filtered_and_pages_exactly(
    tracking: TrackingService,
    seven_experiments: list[str],
    filter_text: str | None,
    order_by: list[str],
) -> None:
    def search(vis: Visibility) -> Callable[[int, str | None], Page[tuple[str, str]]]:
        def fetch(size: int, token: str | None) -> Page[tuple[str, str]]:
            page = tracking.search_experiments(
                ViewType.ACTIVE_ONLY, size, filter_text, order_by, token, visibility=vis
            )
            items = [(e.experiment_id, e.name) for e in page.items]
            return Page(items, next_page_token=page.next_page_token)

        return fetch

    everything = walk(search(ALL), 1000)
    assert {eid for eid, _ in everything} >= set(seven_experiments)
    for case, vis in experiment_cases(seven_experiments).items():
        expected = [(eid, name) for eid, name in everything if vis.allows(eid, name)]
        for size in PAGE_SIZES:
            assert walk(search(vis), size) == expected, (case, size)
    # the reference itself: allowed by id or name, minus the denied ids
    mixed = experiment_cases(seven_experiments)["allow_mixed_minus_deny"]
    assert sorted(n for eid, n in everything if mixed.allows(eid, n)) == ["exp-0", "exp-2"]


def test_experiment_search_hides_deleted_and_hidden_alike(
    tracking: TrackingService, seven_experiments: list[str]
) -> None:
    tracking.delete_experiment(seven_experiments[0])
    vis = Visibility(everything=False, allow_ids=frozenset(seven_experiments[:3]))
    page = tracking.search_experiments(ViewType.ALL, 2, visibility=vis)
    names = sorted(e.name for e in page.items)
    assert len(names) == 2
    assert page.next_page_token is not None
    rest = tracking.search_experiments(
        ViewType.ALL, 2, page_token=page.next_page_token, visibility=vis
    )
    assert sorted(names + [e.name for e in rest.items]) == ["exp-0", "exp-1", "exp-2"]
    assert rest.next_page_token is None
    active = tracking.search_experiments(ViewType.ACTIVE_ONLY, 10, visibility=vis)
    assert sorted(e.name for e in active.items) == ["exp-1", "exp-2"]


# --------------------------------------------------------------------------------- registry


@pytest.fixture
def reg(database: Database, tmp_path: Path) -> RegistryService:
    root = tmp_path / "store"
    root.mkdir()
    return RegistryService(database, ArtifactService(repository_for(str(root))))


@pytest.fixture
def seven_models(reg: RegistryService) -> list[str]:
    names = [f"m-{i}" for i in range(7)]
    for i, name in enumerate(names):
        reg.create_model(name)
        for _ in range(i % 3 + 1):
            reg.create_version(name, SRC)
    return names


@pytest.mark.parametrize(
    ("filter_text", "order_by"), [(None, []), ("name LIKE 'm-%'", ["name DESC"])]
)
def test_registered_model_search_is_filtered_and_pages_exactly(
    reg: RegistryService, seven_models: list[str], filter_text: str | None, order_by: list[str]
) -> None:
    def search(vis: Visibility) -> Callable[[int, str | None], Page[str]]:
        def fetch(size: int, token: str | None) -> Page[str]:
            page = reg.search_models(filter_text, size, order_by, token, visibility=vis)
            return Page([m.name for m in page.items], next_page_token=page.next_page_token)

        return fetch

    everything = walk(search(ALL), 1000)
    assert sorted(everything) == seven_models
    for case, vis in model_cases().items():
        expected = [name for name in everything if vis.allows(name)]
        for size in PAGE_SIZES:
            assert walk(search(vis), size) == expected, (case, size)
    assert walk(search(model_cases()["allow_minus_deny"]), 1) in (["m-2", "m-5"], ["m-5", "m-2"])


@pytest.mark.parametrize(
    ("filter_text", "order_by"),
    [(None, []), ("name != 'm-6'", ["name ASC", "version_number DESC"])],
)
def test_model_version_search_is_filtered_by_model_and_pages_exactly(
    reg: RegistryService, seven_models: list[str], filter_text: str | None, order_by: list[str]
) -> None:
    def search(vis: Visibility) -> Callable[[int, str | None], Page[tuple[str, str]]]:
        def fetch(size: int, token: str | None) -> Page[tuple[str, str]]:
            page = reg.search_versions(filter_text, size, order_by, token, visibility=vis)
            items = [(v.name, v.version) for v in page.items]
            return Page(items, next_page_token=page.next_page_token)

        return fetch

    everything = walk(search(ALL), 1000)
    assert len(everything) == sum(i % 3 + 1 for i in range(7)) - (
        1 if filter_text else 0
    )  # m-6 has one
    for case, vis in model_cases().items():
        expected = [(name, ver) for name, ver in everything if vis.allows(name)]
        for size in PAGE_SIZES:
            assert walk(search(vis), size) == expected, (case, size)


# --------------------------------------------------------------------------------- datasets


@pytest.fixture
def datasets_in_five(tracking: TrackingService) -> tuple[list[str], dict[str, str]]:
    """Five experiments ``exp-0``…``exp-4``, each with a run that used two datasets, logged
    round-robin so that the datasets of one experiment are not next to each other."""
    ids = [tracking.create_experiment(f"exp-{i}") for i in range(5)]
    runs = [tracking.create_run(eid).info.run_id for eid in ids]
    for n in range(2):
        for i, run_id in enumerate(runs):
            data = Dataset(f"data-{i}-{n}", f"d{i}{n}", "local", '{"uri": "x"}')
            tracking.log_inputs(run_id, [(data, {"mlflow.data.context": "train"})])
    return ids, {eid: f"exp-{i}" for i, eid in enumerate(ids)}


def test_dataset_list_is_filtered_by_experiment_and_pages_exactly(
    database: Database, datasets_in_five: tuple[list[str], dict[str, str]]
) -> None:
    ids, names = datasets_in_five
    service = DatasetService(database)

    def listing(
        vis: Visibility, experiment_id: str | None = None
    ) -> Callable[[int, str | None], Page[tuple[str, str]]]:
        def fetch(size: int, token: str | None) -> Page[tuple[str, str]]:
            page = service.list_datasets(experiment_id, None, size, token, visibility=vis)
            items = [(d.experiment_id, d.name) for d in page.items]
            return Page(items, next_page_token=page.next_page_token)

        return fetch

    everything = walk(listing(ALL), 1000)
    assert len(everything) == 10
    cases = experiment_cases([*ids, ids[0], ids[1]])  # the cases want seven ids
    for case, vis in cases.items():
        expected = [(eid, n) for eid, n in everything if vis.allows(eid, names[eid])]
        for size in PAGE_SIZES:
            assert walk(listing(vis), size) == expected, (case, size)
    mixed = cases["allow_mixed_minus_deny"]  # exp-0 and exp-2 stay
    assert [n for _, n in walk(listing(mixed), 1)] == [
        "data-0-0",
        "data-2-0",
        "data-0-1",
        "data-2-1",
    ]
    # narrowed to one experiment: its datasets when visible, none when hidden
    deny = Visibility(deny_ids=frozenset({ids[1]}))
    assert [n for _, n in walk(listing(deny, ids[2]), 1)] == ["data-2-0", "data-2-1"]
    assert walk(listing(deny, ids[1]), 1) == []


def test_dataset_lineage_lists_versions_of_visible_models_only(
    tracking: TrackingService, reg: RegistryService, database: Database
) -> None:
    eid = tracking.create_experiment("lineage")
    run_id = tracking.create_run(eid).info.run_id
    tracking.log_inputs(run_id, [(Dataset("train", "abc", "local", '{"uri": "x"}'), {})])
    for name in ("alpha", "beta"):
        reg.create_model(name)
        reg.create_version(name, f"runs:/{run_id}/model", run_id=run_id)
    service = DatasetService(database)
    (row,) = service.list_datasets().items
    assert [v.name for v in service.lineage(row.dataset_id).model_versions] == ["alpha", "beta"]
    hidden = service.lineage(row.dataset_id, models=Visibility(deny_ids=frozenset({"alpha"})))
    assert [v.name for v in hidden.model_versions] == ["beta"]
    assert [r.run_id for r in hidden.runs] == [run_id]
    none = service.lineage(row.dataset_id, models=Visibility(everything=False))
    assert none.model_versions == []
