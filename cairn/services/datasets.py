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
MAX_SUMMARY_EXPERIMENTS = 20
"""MLflow's bound on the experiments of one ``search-datasets`` request."""


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

    def lineage(
        self, dataset_id: str, *, models: Visibility = ALL, experiments: Visibility = ALL
    ) -> Lineage:
        """A dataset (by its public id), the runs that used it and the model versions
        registered from those runs, of the registered models ``models`` lets the caller
        read; not found when ``experiments`` hides the dataset's experiment."""
        return self.db.read(lambda c: store.lineage(c, dataset_id, models, experiments))

    def find(self, ref: str, limit: int = 20) -> list[DatasetRow]:
        """Logged datasets whose name or digest is ``ref``, newest first (for evaluations,
        which run as the system and read any experiment's datasets)."""
        return self.db.read(lambda c: store.find(c, ref, limit))

    def summaries(self, experiment_ids: list[str]) -> list[tuple[str, str, str, str]]:
        """MLflow's ``experiments/search-datasets`` (the web UI's): (experiment id, name,
        digest, context) of the datasets logged to runs of the experiments."""
        if not experiment_ids:
            raise CairnError.invalid(
                "SearchDatasets request must specify at least one experiment_id."
            )
        if len(experiment_ids) > MAX_SUMMARY_EXPERIMENTS:
            raise CairnError.invalid(
                f"SearchDatasets request cannot specify more than {MAX_SUMMARY_EXPERIMENTS} "
                f"experiment_ids. Received {len(experiment_ids)} experiment_ids."
            )
        ids = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        rows = self.db.read(lambda c: store.summaries(c, ids, MAX_RESULTS))
        return [(str(e), name, digest, context) for e, name, digest, context in rows]
