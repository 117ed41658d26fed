"""Registry changes with the stock client's own retries, for the kill -9 test.

Run by tests/compat/test_scaleout_durability.py with the stock 3.x client: ``THREADS`` threads
share operations ``0 .. OPS-1`` on registered model ``DURABLE_MODEL``. Operation ``i`` creates a
model version tagged ``op=i`` (``MlflowClient.create_model_version``), then points alias
``a<i>`` at it and tags it ``aliased=a<i>``. Each call retries failed requests as the client
always does (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and friends). Prints ``ACK <i> <version>``
once all three calls of operation ``i`` returned success, ``FAIL <i> <error>`` when one did not
after its retries.
"""

from __future__ import annotations

import os
import threading

from mlflow import MlflowClient


def main() -> None:
    name = os.environ["DURABLE_MODEL"]
    ops = int(os.environ["OPS"])
    threads = int(os.environ["THREADS"])
    client = MlflowClient()
    out = threading.Lock()

    def say(line: str) -> None:
        with out:
            print(line, flush=True)

    def work(first: int) -> None:
        for i in range(first, ops, threads):
            try:
                version = client.create_model_version(
                    name, f"mlflow-artifacts:/models/{i}", tags={"op": str(i)}
                ).version
                client.set_registered_model_alias(name, f"a{i}", version)
                client.set_model_version_tag(name, version, "aliased", f"a{i}")
            except Exception as exc:  # reported: the test decides
                say(f"FAIL {i} {type(exc).__name__}: {str(exc)[:300]!r}")
            else:
                say(f"ACK {i} {version}")

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
