"""The evaluation leaderboard: benchmarks × models (or registered versions) with the latest
completed primary score of each, sorted by the first benchmark (lower-is-better respected),
and each registered version's delta against its model's champion (the ``champion`` alias,
else the newest Production version). No SQL here (cairn.store.eval_leaderboard), no HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError
from cairn.store import eval_leaderboard as store
from cairn.store.db import Database

MAX_NAMES = 50
"""Benchmarks or models one request may name."""
MAX_NAME_LENGTH = 512
DEFAULT_MODELS = 50
MAX_MODELS = 500


@dataclass(frozen=True)
class BoardBenchmark:
    benchmark_id: str
    provider_id: str
    primary_metric: str | None
    lower_is_better: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark_id": self.benchmark_id,
            "provider_id": self.provider_id,
            "primary_metric": self.primary_metric,
            "lower_is_better": self.lower_is_better,
        }


@dataclass
class BoardRow:
    model_name: str
    registered_name: str | None
    registered_version: int | None
    scores: dict[str, store.Score] = field(default_factory=dict)
    delta_vs_champion: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "registered_name": self.registered_name,
            "registered_version": self.registered_version,
            "scores": {
                k: {
                    "score": s.score,
                    "job_id": s.job_id,
                    "run_id": s.run_id,
                    "finished_at": s.finished_at,
                }
                for k, s in self.scores.items()
            },
            "delta_vs_champion": dict(self.delta_vs_champion),
        }


@dataclass
class Leaderboard:
    benchmarks: list[BoardBenchmark]
    rows: list[BoardRow]
    champion: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmarks": [x.to_json() for x in self.benchmarks],
            "rows": [r.to_json() for r in self.rows],
            "champion": dict(self.champion),
        }


def parse_names(value: str | None, field_name: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]`` (order kept, duplicates dropped); a 400 naming
    ``field_name`` when there are too many or one is too long or holds control characters."""
    if not value:
        return []
    names: list[str] = []
    for part in value.split(","):
        name = part.strip()
        if not name or name in names:
            continue
        if len(name) > MAX_NAME_LENGTH:
            raise CairnError.invalid(
                f"{field_name}: a name is longer than {MAX_NAME_LENGTH} characters"
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise CairnError.invalid(f"{field_name}: names may not hold control characters")
        names.append(name)
    if len(names) > MAX_NAMES:
        raise CairnError.invalid(f"{field_name}: at most {MAX_NAMES} names, got {len(names)}")
    return names


def _row_key(s: store.Score) -> tuple[str, int | None]:
    if s.registered_name is not None:
        return (s.registered_name, s.registered_version)
    return (s.model_name, None)


def sort_rows(rows: list[BoardRow], first: BoardBenchmark | None) -> list[BoardRow]:
    """Best first on ``first`` (lowest when lower is better), rows without its score last;
    ties and the rest by model name, then version."""

    def name_key(r: BoardRow) -> tuple[str, int]:
        return (r.registered_name or r.model_name, r.registered_version or 0)

    by_name = sorted(rows, key=name_key)
    if first is None:
        return by_name
    sign = 1.0 if first.lower_is_better else -1.0
    scored = [r for r in by_name if first.benchmark_id in r.scores]
    unscored = [r for r in by_name if first.benchmark_id not in r.scores]
    scored.sort(key=lambda r: sign * r.scores[first.benchmark_id].score)  # stable
    return scored + unscored


class EvalLeaderboardService:
    def __init__(self, db: Database):
        self.db = db

    def leaderboard(
        self,
        benchmarks: Sequence[str] = (),
        models: Sequence[str] = (),
        provider: str | None = None,
        max_models: int = DEFAULT_MODELS,
        *,
        experiments: Visibility = ALL,
        registered: Visibility = ALL,
    ) -> Leaderboard:
        if not 1 <= max_models <= MAX_MODELS:
            raise CairnError.invalid(f"max_models: must be between 1 and {MAX_MODELS}")
        if provider is not None and (not provider or len(provider) > 128):
            raise CairnError.invalid("provider: must be 1 to 128 characters")

        def read(conn: Any) -> tuple[list[store.Score], dict[str, int]]:
            scores = store.latest_scores(
                conn,
                benchmarks=benchmarks,
                models=models,
                provider=provider,
                experiments=experiments,
                registered=registered,
            )
            names = sorted({s.registered_name for s in scores if s.registered_name})
            return scores, store.champions(conn, names)

        scores, champion = self.db.read(read)

        # the benchmarks: in the order asked for, else by name; described by their newest score
        described: dict[str, store.Score] = {}
        for s in scores:
            known = described.get(s.benchmark_id)
            if known is None or (s.finished_at or 0) > (known.finished_at or 0):
                described[s.benchmark_id] = s
        order = [x for x in benchmarks if x in described] if benchmarks else sorted(described)
        columns = [
            BoardBenchmark(
                x,
                described[x].provider_id,
                described[x].primary_metric,
                described[x].lower_is_better,
            )
            for x in order
        ]

        rows: dict[tuple[str, int | None], BoardRow] = {}
        for s in scores:
            key = _row_key(s)
            row = rows.get(key)
            if row is None:
                row = rows[key] = BoardRow(s.model_name, s.registered_name, s.registered_version)
            row.scores[s.benchmark_id] = s

        for row in rows.values():
            best = None
            if row.registered_name is not None and row.registered_name in champion:
                best = rows.get((row.registered_name, champion[row.registered_name]))
            for col in columns:
                mine = row.scores.get(col.benchmark_id)
                theirs = best.scores.get(col.benchmark_id) if best is not None else None
                row.delta_vs_champion[col.benchmark_id] = (
                    mine.score - theirs.score if mine is not None and theirs is not None else None
                )

        ordered = sort_rows(list(rows.values()), columns[0] if columns else None)[:max_models]
        kept = {r.registered_name for r in ordered if r.registered_name}
        return Leaderboard(
            columns, ordered, {n: v for n, v in sorted(champion.items()) if n in kept}
        )
