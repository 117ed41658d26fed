"""A saved view: one user's named view of an experiment's runs table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SavedView:
    experiment_id: str
    owner: str
    name: str
    query: str
    """The runs page's URL query (``q=…&cols=…&group=…``)."""
    updated_at: int
