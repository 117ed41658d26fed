"""The SDK's process-wide state: the tracking URI chosen with ``set_tracking_uri``, and the exit
hook that ends runs, flushes queues and closes connections and embedded stores at exit.

It sits on the lowest floor (with config.py): the modules above hand it their clean-up steps
with :func:`on_exit`, so it never imports them.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable

from cairn.client.config import resolve_target

_lock = threading.Lock()
_tracking_uri: str | None = None
_exit_steps: list[Callable[[], None]] = []
_exit_registered = False
_shutdown_done = False


def set_tracking_uri(uri: str) -> bool:
    """Use ``uri`` (already resolved) from now on; True when it differs from the one before."""
    global _tracking_uri
    with _lock:
        changed = _tracking_uri != uri
        _tracking_uri = uri
        return changed


def get_tracking_uri() -> str:
    """The tracking URI in use: set_tracking_uri > $CAIRN_TRACKING_URI > $MLFLOW_TRACKING_URI >
    the embedded store in ./cairn-data (the folder `cairn server` uses by default)."""
    with _lock:
        if _tracking_uri is not None:
            return _tracking_uri
    return resolve_target(None).uri


def on_exit(step: Callable[[], None]) -> None:
    """Add a clean-up step to the exit hook. Steps run in reverse order of registration, as
    atexit's do: a module registers its step when imported, so a higher floor (fluent: end
    runs, flush queues) runs before a lower one (rest: close HTTP clients and embedded
    stores)."""
    with _lock:
        if step not in _exit_steps:
            _exit_steps.append(step)


def register_exit() -> None:
    """Run :func:`shutdown` at interpreter exit (atexit, so after the program's own non-daemon
    threads finished). Installs the hook once; called when the first client is made."""
    global _exit_registered
    with _lock:
        if _exit_registered:
            return
        _exit_registered = True
    atexit.register(shutdown)


def shutdown() -> None:
    """Run the exit steps, once (until :func:`reset`)."""
    global _shutdown_done
    with _lock:
        if _shutdown_done:
            return
        _shutdown_done = True
        steps = list(reversed(_exit_steps))
    for step in steps:
        step()


def reset() -> None:
    """Forget the tracking URI and allow :func:`shutdown` to run again (tests)."""
    global _tracking_uri, _shutdown_done
    with _lock:
        _tracking_uri = None
        _shutdown_done = False
