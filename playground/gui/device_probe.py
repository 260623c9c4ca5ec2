"""The device training will use, asked in a short child process. No Qt and no torch here.

Why a child: asking torch about a CUDA GPU (its name, its free memory) creates a CUDA context,
hundreds of MB of GPU memory and seconds of start-up that would then stay with the window for
its whole life. The GUI process keeps plain numbers instead:

    info = device_probe.probe(cancel=cancel)   # in a worker thread; one child per app, remembered
    info.description                           # "CPU · 8 threads", "CUDA · NVIDIA H100 · 80 GB"
    device_probe.free_memory(info)             # bytes free where training would run, now

The training child runs its own fit check (core.devices.check_fits) before it allocates. The
Model tab's Measure runs in a training child (training_process.measure_in_child), not here:
it must time steps with the training's own settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cpu" | "cuda" | "mps": torch.device.type of the device training would pick
    description: str  # one line for people (core.devices.device_description)
    free: int | None  # bytes free there when probed; None when the system would not say

    @property
    def memory_name(self) -> str:
        """What runs out: GPU memory for CUDA, the computer's memory otherwise (MPS shares RAM)."""
        return "GPU memory" if self.kind == "cuda" else "memory"


def describe_device(progress=None) -> dict:
    """Runs in the child (child_jobs.run_in_child): torch is imported there, not here."""
    from playground.core import devices

    device = devices.pick_device()
    return {"kind": device.type, "description": devices.device_description(device),
            "free": devices.available_memory(device)}


_cached: DeviceInfo | None = None
_lock = threading.Lock()  # two callers at start-up (status bar, Model tab) share one child


def probe(progress=None, cancel=None) -> DeviceInfo:
    """The device training would pick. Blocks (call it in a worker); the first call starts a
    child process, later calls return what it said (the device does not change while the app
    runs)."""
    global _cached
    with _lock:
        if _cached is None:
            from playground.gui import child_jobs

            _cached = DeviceInfo(**child_jobs.run_in_child(describe_device, cancel=cancel))
        return _cached


def cached() -> DeviceInfo | None:
    """The probe's answer if it has come (GUI thread: never blocks)."""
    return _cached


def free_memory(info: DeviceInfo) -> int | None:
    """Bytes free where training would run: the RAM read now, or the GPU's at probe time."""
    if info.kind == "cuda":
        return info.free
    try:
        return int(psutil.virtual_memory().available)
    except (OSError, RuntimeError):  # psutil raises these where the OS refuses to say
        return None
