"""Log known metric batches with the stock client's own retries, for the kill -9 test.

Run by tests/compat/test_scaleout_durability.py with the stock 3.x client: ``THREADS`` threads
log batches ``0 .. BATCHES-1`` of ``PER_BATCH`` points each to run ``DURABLE_RUN_ID`` (batch
``b`` holds steps ``b*PER_BATCH ..``, value ``step / 2``, timestamp ``T0 + step``), through
``MlflowClient.log_batch``, which retries failed requests as the client always does
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and friends). Prints ``ACK <b>`` once a batch's request
returned success, ``FAIL <b> <error>`` when it did not after its retries.
"""

from __future__ import annotations

import os
import threading

from mlflow import MlflowClient
from mlflow.entities import Metric

T0 = 1_700_000_000_000
PER_BATCH = int(os.environ.get("PER_BATCH", "100"))


def batch(b: int) -> list[Metric]:
    steps = range(b * PER_BATCH, (b + 1) * PER_BATCH)
    return [Metric("loss", s / 2, T0 + s, s) for s in steps]


def main() -> None:
    run_id = os.environ["DURABLE_RUN_ID"]
    batches = int(os.environ["BATCHES"])
    threads = int(os.environ["THREADS"])
    client = MlflowClient()
    out = threading.Lock()

    def say(line: str) -> None:
        with out:
            print(line, flush=True)

    def work(first: int) -> None:
        for b in range(first, batches, threads):
            try:
                client.log_batch(run_id, metrics=batch(b), synchronous=True)
            except Exception as exc:  # reported: the test decides
                say(f"FAIL {b} {type(exc).__name__}: {str(exc)[:300]!r}")
            else:
                say(f"ACK {b}")

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
