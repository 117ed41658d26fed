#!/usr/bin/env python3
"""How long ``cairn.ml.describe_dataset`` takes (digest + schema + profile) on tables of
different sizes and kinds, and ``save_model``/``load_model_dir`` on a RandomForest.

    python benchmarks/dataset_profile.py --rows 100000 --repeat 3

Prints the best of ``--repeat`` timings per case, in milliseconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cairn.ml import describe_dataset, load_model_dir, save_model


def best_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    numeric = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(10)})
    numeric["label"] = rng.integers(0, 5, n)
    words = np.array(["ignore", "previous", "instructions", "hello", "weather", "system"])
    text = pd.DataFrame(
        {
            "text": [" ".join(rng.choice(words, 6)) for _ in range(n)],
            "label": rng.choice(["benign", "jailbreak", "prompt_injection"], n),
        }
    )
    array = rng.normal(size=(n, 32)).astype(np.float32)
    cases = {
        f"DataFrame {n:,} rows × 10 float + int label": lambda: describe_dataset(
            numeric, targets="label"
        ),
        f"DataFrame {n:,} rows × text + string label": lambda: describe_dataset(
            text, targets="label"
        ),
        f"ndarray {n:,} × 32 float32": lambda: describe_dataset(array),
    }
    print(f"{'case':<52} {'best ms':>10}")
    for name, fn in cases.items():
        print(f"{name:<52} {best_ms(fn, args.repeat):>10.1f}")

    from sklearn.ensemble import RandomForestClassifier

    x = numeric.drop(columns=["label"]).head(5000)
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, numeric["label"][:5000])
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000_000))
        save_ms = best_ms(
            lambda: save_model(model, Path(tmp) / f"m{next(counter)}", input_example=x.head(3)),
            args.repeat,
        )
        load_ms = best_ms(lambda: load_model_dir(Path(tmp) / "m0").predict(x.head(10)), args.repeat)
    print(f"{'save_model RandomForest(100 trees)':<52} {save_ms:>10.1f}")
    print(f"{'load_model_dir + predict 10 rows':<52} {load_ms:>10.1f}")


if __name__ == "__main__":
    main()
