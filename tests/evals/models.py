"""The demos' models, trained the demos' way and registered through the Cairn SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cairn
from cairn.demo import lims, prompts
from tests.evals.conftest import Stack

SECURITY = prompts.MODEL_NAME
LIMS = lims.MODEL_NAME
LIMS_REGRESSOR = "lims_processing_time"


def quiet(_line: str) -> None:
    return None


def register_security_classifier(stack: Stack, variants: int = 1, per_class: int = 60) -> Any:
    """``security_prompt_classifier``: the demo's TF-IDF + LogisticRegression, trained by the
    demo's own ``train_variant`` (one version per variant); the validation frame."""
    from sklearn.model_selection import train_test_split

    frame = prompts.generate_prompts(per_class=per_class)
    train, validation = train_test_split(
        frame, test_size=0.25, random_state=7, stratify=frame["label"]
    )

    def work() -> None:
        cairn.set_experiment(prompts.EXPERIMENT)
        client = cairn.Client()
        for variant in prompts.VARIANTS[:variants]:
            prompts.train_variant(client, variant, train, validation, quiet)

    stack.with_sdk(work)
    return validation


def register_lims(stack: Stack) -> dict[str, Any]:
    """``lims_contamination_detector``: the LIMS demo's own ``run`` (a smaller forest)."""
    return dict(stack.with_sdk(lambda: lims.run(quiet, params={"n_estimators": 20})))


def register_lims_regressor(stack: Stack) -> Any:
    """A regression model on the LIMS samples (processing time from the other readings),
    logged and registered like the demo's classifier; the test frame."""
    from sklearn.ensemble import RandomForestRegressor

    samples = lims.generate_samples(n=300)
    features = ["ph_level", "temperature", "turbidity"]
    train, test = samples.iloc[:200], samples.iloc[200:]

    def work() -> None:
        cairn.set_experiment(lims.EXPERIMENT)
        with cairn.start_run(run_name="rf-processing-time"):
            model = RandomForestRegressor(n_estimators=20, max_depth=5, random_state=42)
            model.fit(train[features], train["processing_time"])
            cairn.log_model(
                model, "model", input_example=test[features].head(3),
                registered_model_name=LIMS_REGRESSOR,
            )  # fmt: skip

    stack.with_sdk(work)
    return test


def write_csv(frame: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
