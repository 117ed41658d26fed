"""Long training curves for the demo: runs with tens of thousands of steps per metric, so the
chart pages have something to draw (loss, accuracy, learning rate; one run diverges)."""

from __future__ import annotations

import math
import random
from typing import Any

import cairn
from cairn.demo.common import Report, printer

EXPERIMENT = "training-curves"
RUNS: list[dict[str, Any]] = [
    {"run_name": "warmup-cosine", "lr": 3e-4, "noise": 0.02, "diverge": False},
    {"run_name": "constant-lr", "lr": 1e-3, "noise": 0.04, "diverge": False},
    {"run_name": "too-high-lr", "lr": 5e-3, "noise": 0.06, "diverge": True},
]
STEPS = len(RUNS)
BATCH = 1000


def curve_point(
    step: int, total: int, config: dict[str, Any], rng: random.Random
) -> dict[str, float]:
    progress = step / total
    warmup = min(1.0, step / (0.05 * total))
    lr = (
        config["lr"]
        * warmup
        * (
            0.5 * (1 + math.cos(math.pi * progress))
            if config["run_name"] == "warmup-cosine"
            else 1.0
        )
    )
    loss = 2.3 * math.exp(-4 * progress * (config["lr"] / 1e-3) ** 0.3) + 0.08
    if config["diverge"] and progress > 0.6:
        loss += (progress - 0.6) * 6
    loss *= 1 + rng.gauss(0, config["noise"])
    accuracy = max(0.0, min(1.0, 1 - loss / 2.5 + rng.gauss(0, config["noise"] / 4)))
    return {"train_loss": loss, "train_accuracy": accuracy, "learning_rate": lr}


def run(report: Report = printer, steps: int = 20_000) -> dict[str, Any]:
    """Log ``steps`` points of three metrics for each run, in batches."""
    cairn.set_experiment(EXPERIMENT)
    client = cairn.Client()
    run_ids = []
    for config in RUNS:
        rng = random.Random(config["run_name"])
        with cairn.start_run(run_name=str(config["run_name"])) as active:
            run_id = active.info.run_id
            cairn.log_params(
                {k: v for k, v in config.items() if k != "run_name"} | {"steps": steps}
            )
            start_ms = 1_700_000_000_000
            buffer: list[cairn.Metric] = []
            for step in range(steps):
                point = curve_point(step, steps, config, rng)
                stamp = start_ms + step * 250
                buffer.extend(cairn.Metric(k, v, stamp, step) for k, v in point.items())
                if step % 100 == 0:
                    buffer.append(cairn.Metric("val_loss", point["train_loss"] * 1.08, stamp, step))
                if len(buffer) >= BATCH:
                    client.log_batch(run_id, buffer)
                    buffer = []
            if buffer:
                client.log_batch(run_id, buffer)
            cairn.set_tag("curve", "diverges" if config["diverge"] else "converges")
        run_ids.append(run_id)
        report(f"{config['run_name']}: {steps:,} steps × 3 metrics")
    return {"run_ids": run_ids, "steps": steps}
