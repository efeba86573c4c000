"""Sharing one process between a training run and everything else: CPU threads and random numbers.

**Threads.** With torch's OpenMP backend each thread that runs a parallel operator starts its own
team of worker threads, and once the process holds more OpenMP threads than there are cores,
libgomp stops letting idle workers spin and puts them to sleep between operators: every
convolution then wakes its workers through the kernel. A window whose UI thread or job threads
ever ran a parallel operator trained ResNet-20 at 0.60× the command line's images/s for that
reason alone (120,000 voluntary context switches in a 3-epoch run, against 641 on the command
line). ``limit_this_thread()`` caps the calling thread's own team at one thread, so only the
training thread's team uses the cores.

**Random numbers.** Model initialisation, dropout and augmentation draw from torch's one global
generator. A model built on another thread while a run seeds and builds its own would shift the
run's stream, and the same seed would give another run. ``RNG_LOCK`` is held by a run while it
seeds and builds its model, and by ``seeded()``, which every other build uses: it draws from a
fixed seed and puts the global stream back as it found it.
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

import torch

__all__ = ["RNG_LOCK", "in_fresh_thread", "limit_this_thread", "seeded"]

RNG_LOCK = threading.RLock()


def _openmp():
    try:
        lib = ctypes.CDLL(None)  # the OpenMP runtime torch loaded (libgomp, libomp) is in the process's namespace
        return lib if hasattr(lib, "omp_set_num_threads") else None
    except (OSError, TypeError):  # Windows has no CDLL(None): torch's own setting stands
        return None


def limit_this_thread(threads: int = 1) -> bool:
    """Cap the OpenMP team the calling thread starts at ``threads`` (other threads keep theirs).
    Returns whether the runtime took it."""
    torch.get_num_threads()  # torch sets each thread's team size once, on first use: let it, then override it
    lib = _openmp()
    if lib is None:
        return False
    lib.omp_set_num_threads(int(threads))
    return torch.get_num_threads() == threads


def in_fresh_thread(fn):
    """``fn()`` on a new thread, which gets torch's whole intra-op team (as a training thread
    does) and takes it away when it ends: for measuring what a run will get, from a job thread
    whose own team is capped."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            result["error"] = exc
    thread = threading.Thread(target=run, name="measure", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


@contextmanager
def seeded(seed: int = 0):
    """Draw from a fixed seed inside the block and leave the global random stream as it was.
    Never use it on a thread while a run trains: it puts back the state it found."""
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
