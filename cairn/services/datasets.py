"""Datasets across experiments, for Cairn's datasets API: a filtered, paged listing with usage
counts, and one dataset's lineage."""

from __future__ import annotations

from cairn.entities.access import ALL, Visibility
from cairn.entities.datasets import DatasetRow, Lineage
from cairn.entities.errors import CairnError
from cairn.entities.tracking import Page, parse_experiment_id
from cairn.store import datasets as store
from cairn.store.db import Database

MAX_RESULTS = 1000


class DatasetService:
    def __init__(self, db: Database):
        self.db = db

    def list_datasets(
        self,
        experiment_id: object | None = None,
        name: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        *,
        visibility: Visibility = ALL,
    ) -> Page[DatasetRow]:
        """Datasets in the order they were first logged, optionally of one experiment and with
        one name, of the experiments ``visibility`` lets the caller read."""
        eid = parse_experiment_id(experiment_id) if experiment_id is not None else None
        if not 0 < max_results <= MAX_RESULTS:
            raise CairnError.invalid(f"max_results must be between 1 and {MAX_RESULTS}")
        return self.db.read(
            lambda c: store.list_datasets(c, eid, name, max_results, page_token, visibility)
        )

    def lineage(self, dataset_id: str, *, models: Visibility = ALL) -> Lineage:
        """A dataset (by its public id), the runs that used it and the model versions
        registered from those runs, of the registered models ``models`` lets the caller
        read."""
        return self.db.read(lambda c: store.lineage(c, dataset_id, models))
