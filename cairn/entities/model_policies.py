"""Model policies: aliases Cairn keeps on a registered model's versions by itself.

``latest`` keeps an alias on the newest version that exists. ``best`` keeps an alias on the
version whose source run has the best latest value of one metric (highest for ``max``, lowest
for ``min``); a tie goes to the newest of the tied versions, versions whose run lacks the
metric (or has a NaN or infinite value) are left out, and with no candidate the alias is
removed. Choosing is pure: :func:`choose_best` takes the candidates handed to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cairn.entities.insights import Direction

DEFAULT_LATEST_ALIAS = "latest"
DEFAULT_BEST_ALIAS = "best"


@dataclass(frozen=True, slots=True)
class AliasPolicy:
    """A registered model's alias policy: ``latest`` on or off (under ``latest_alias``) and
    a ``best`` rule when ``best_metric`` is set (under ``best_alias``)."""

    model_name: str
    latest: bool = False
    latest_alias: str = DEFAULT_LATEST_ALIAS
    best_metric: str | None = None
    best_direction: Direction = Direction.MAX
    best_alias: str = DEFAULT_BEST_ALIAS
    updated_at: int = 0
    updated_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "latest": self.latest,
            "latest_alias": self.latest_alias,
            "best_metric": self.best_metric,
            "best_direction": self.best_direction.value,
            "best_alias": self.best_alias,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }

    def body(self) -> dict[str, Any]:
        """What the policy says, without who set it when (a change event's before/after)."""
        out = self.to_json()
        for key in ("model_name", "updated_at", "updated_by"):
            out.pop(key)
        return out


def choose_best(
    candidates: Iterable[tuple[int, float]], direction: Direction
) -> tuple[int, float] | None:
    """The (version, value) with the best finite value; ties go to the newest version."""
    found: tuple[int, float] | None = None
    for version, value in candidates:
        if not math.isfinite(value):
            continue
        if found is None:
            found = (version, value)
            continue
        best_version, best_value = found
        better = value > best_value if direction is Direction.MAX else value < best_value
        if better or (value == best_value and version > best_version):
            found = (version, value)
    return found
