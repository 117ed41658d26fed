"""Opt-in system metrics: CPU, memory, disk, network and NVIDIA GPUs as ``system/…`` metrics.

Sampled every ``CAIRN_SYSTEM_METRICS_INTERVAL`` seconds (default 10) by a daemon thread from
start_run until end_run; step = the sample's index (0, 1, 2 …). Needs psutil (in the ``ml``
extra). GPUs are read with ``nvidia-smi --query-gpu`` when that command exists; without it
GPU metrics are simply not logged.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from cairn.client.batching import METRIC, Item
from cairn.client.config import env_float
from cairn.client.errors import MissingDependencyError

log = logging.getLogger("cairn")
GPU_QUERY = "utilization.gpu,memory.used,memory.total"
NVIDIA_SMI_TIMEOUT_S = 5.0


def gpu_samples(nvidia_smi: str | None) -> dict[str, float]:
    """Per-GPU utilisation and memory from nvidia-smi ({} when it is absent or fails)."""
    if nvidia_smi is None:
        return {}
    try:
        out = subprocess.run(
            [nvidia_smi, f"--query-gpu={GPU_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("nvidia-smi failed: %s", exc)
        return {}
    metrics: dict[str, float] = {}
    for index, line in enumerate(out.strip().splitlines()):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        try:
            util, used, total = (float(p) for p in parts)
        except ValueError:
            continue
        metrics[f"system/gpu_{index}_utilization_percentage"] = util
        metrics[f"system/gpu_{index}_memory_usage_megabytes"] = used
        if total > 0:
            metrics[f"system/gpu_{index}_memory_usage_percentage"] = 100.0 * used / total
    return metrics


def require_psutil() -> Any:
    try:
        import psutil
    except ImportError:
        raise MissingDependencyError("psutil", "System metrics (log_system_metrics)") from None
    return psutil


class SystemMetricsMonitor:
    """Samples the machine into a run's metric queue until stopped."""

    def __init__(
        self,
        run_id: str,
        sink: Callable[[list[Item]], None],
        interval: float | None = None,
    ) -> None:
        psutil = require_psutil()
        self._psutil: Any = psutil
        self.run_id = run_id
        self.sink = sink
        self.interval = (
            interval
            if interval is not None
            else env_float("CAIRN_SYSTEM_METRICS_INTERVAL", 10.0, minimum=0.01)
        )
        self.nvidia_smi = shutil.which("nvidia-smi")
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cairn-system-metrics", daemon=True)
        net = psutil.net_io_counters()
        self._net0 = (net.bytes_recv, net.bytes_sent) if net else (0, 0)
        psutil.cpu_percent(interval=None)  # prime: the next call measures since now

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.interval + NVIDIA_SMI_TIMEOUT_S + 5)

    def sample(self) -> dict[str, float]:
        ps = self._psutil
        memory = ps.virtual_memory()
        disk = ps.disk_usage("/")
        metrics = {
            "system/cpu_utilization_percentage": float(ps.cpu_percent(interval=None)),
            "system/system_memory_usage_megabytes": memory.used / 1e6,
            "system/system_memory_usage_percentage": float(memory.percent),
            "system/disk_usage_megabytes": disk.used / 1e6,
            "system/disk_usage_percentage": float(disk.percent),
        }
        net = ps.net_io_counters()
        if net:
            metrics["system/network_receive_bytes"] = float(net.bytes_recv - self._net0[0])
            metrics["system/network_transmit_bytes"] = float(net.bytes_sent - self._net0[1])
        metrics.update(gpu_samples(self.nvidia_smi))
        return metrics

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += self.interval
            if self._stop.wait(max(0.0, deadline - time.monotonic())):
                return
            try:
                values = self.sample()
            except Exception as exc:  # a broken sensor must not kill training
                log.warning("cairn: system metrics sample failed: %s", exc)
                continue
            ts = int(time.time() * 1000)
            step = self.samples
            self.samples += 1
            self.sink([(self.run_id, METRIC, k, v, ts, step) for k, v in values.items()])
