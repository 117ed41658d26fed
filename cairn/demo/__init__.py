"""``cairn demo``: fill a store with the example workflows (see docs/examples.md).

The scenarios live here, inside the package, so ``cairn demo`` works wherever Cairn is
installed; the scripts under ``examples/`` run the same code one scenario at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.demo.common import Report


@dataclass
class DemoResult:
    """What one demo filled in: experiment names, run and model counts, per-scenario output."""

    experiments: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    runs: int = 0
    datasets: int = 0
    dataset_uses: int = 0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: int
    run: Callable[[Report], dict[str, Any]]


def scenarios(curve_steps: int = 20_000) -> list[Scenario]:
    """The demo's scenarios in order, with their number of progress steps."""
    from cairn.demo import curves, lims, prompts, sweep

    baseline = {"n_estimators": 30, "max_depth": 3, "min_samples_leaf": 10}
    return [
        Scenario(
            "lims-baseline",
            lims.STEPS,
            lambda r: lims.run(r, params=baseline, run_name="rf-baseline"),
        ),
        Scenario("lims", lims.STEPS, lambda r: lims.run(r)),
        Scenario("security-prompts", prompts.STEPS, prompts.run),
        Scenario("sweep", sweep.STEPS, sweep.run),
        Scenario("curves", curves.STEPS, lambda r: curves.run(r, steps=curve_steps)),
    ]


def run_demo(
    tracking_uri: str | None = None,
    report: Callable[[str, str], None] | None = None,
    curve_steps: int = 20_000,
) -> DemoResult:
    """Run every scenario against ``tracking_uri`` (default: the SDK's, i.e. the embedded
    store in ./cairn-data unless $CAIRN_TRACKING_URI/$MLFLOW_TRACKING_URI say otherwise).

    ``report(scenario, message)`` is called after every step. Running it again adds new runs
    and new model versions next to the old ones."""
    import cairn
    from cairn.demo import curves, lims, prompts, sweep

    if tracking_uri:
        cairn.set_tracking_uri(tracking_uri)
    result = DemoResult(
        experiments=[lims.EXPERIMENT, prompts.EXPERIMENT, sweep.EXPERIMENT, curves.EXPERIMENT],
        models=[lims.MODEL_NAME, prompts.MODEL_NAME, sweep.MODEL_NAME],
    )
    for scenario in scenarios(curve_steps):

        def step(message: str, name: str = scenario.name) -> None:
            if report is not None:
                report(name, message)

        result.details[scenario.name] = scenario.run(step)
    cairn.flush()
    details = result.details
    result.runs = (
        2  # the two LIMS runs
        + len(details["security-prompts"]["runs"])
        + 1
        + int(details["sweep"]["children"])
        + len(details["curves"]["run_ids"])
    )
    # both LIMS runs log the same training and test sets (one dataset each, used twice), each
    # prompt run its own training and validation sets, the sweep's parent its training set
    prompt_runs = len(details["security-prompts"]["runs"])
    result.datasets = 2 + 2 * prompt_runs + 1
    result.dataset_uses = 2 * 2 + 2 * prompt_runs + 1
    return result
