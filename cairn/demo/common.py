"""What the demo scenarios share: a progress callback and small helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Report = Callable[[str], None]
"""Called once per finished step with a short description (the demo's progress bar)."""


def quiet(_message: str) -> None:
    """A Report that says nothing."""


def printer(message: str) -> None:
    """A Report for the example scripts: one line per step."""
    print(f"  ✓ {message}", flush=True)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tracking_uri_from_argv(argv: list[str] | None, description: str) -> None:
    """The example scripts' command line: ``--tracking-uri URL`` (else $CAIRN_TRACKING_URI,
    $MLFLOW_TRACKING_URI, or the embedded store in ./cairn-data)."""
    import argparse

    import cairn

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--tracking-uri",
        help="a Cairn server (http://127.0.0.1:5000) or a local folder for the embedded "
        "store [default: $CAIRN_TRACKING_URI, $MLFLOW_TRACKING_URI, or ./cairn-data]",
    )
    args = parser.parse_args(argv)
    if args.tracking_uri:
        cairn.set_tracking_uri(args.tracking_uri)
    print(f"Tracking URI: {cairn.get_tracking_uri()}", flush=True)
