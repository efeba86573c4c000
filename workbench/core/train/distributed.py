"""Running the same ``train`` command under ``torchrun --nproc_per_node N``.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; ``Context.from_env`` joins the process
group (NCCL on CUDA, gloo on the CPU) and picks this process's device. Rank 0 writes the run
folder; every rank trains on its own share of each epoch and the metrics are summed across ranks.
A single process is a world of one, and then every method here is a no-op.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    started_here: bool = False

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device_preference: str = "auto") -> "Context":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        started = False
        if not dist.is_initialized():
            use_cuda = torch.cuda.is_available() and device_preference in ("auto", "cuda") or \
                device_preference.startswith("cuda")
            if use_cuda:
                torch.cuda.set_device(local_rank)
            dist.init_process_group("nccl" if use_cuda else "gloo")
            started = True
        return cls(rank=rank, world=world, local_rank=local_rank, started_here=started)

    def device(self, preference: str) -> str:
        """Under torchrun each process takes the GPU of its local rank."""
        if self.active and torch.cuda.is_available() and preference in ("auto", "cuda"):
            return f"cuda:{self.local_rank}"
        return preference

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sum over all ranks (one all-reduce)."""
        if not self.active:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj):
        """Every rank's ``obj``, in rank order (a single process: ``[obj]``)."""
        if not self.active:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is true on one (a stop request, a failure)."""
        if not self.active:
            return flag
        tensor = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(tensor)
        return bool(tensor.item() > 0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self, together: bool = True) -> None:
        """Leave the group. After a good run the ranks leave together (a rank that tears gloo
        down while another still talks to it aborts: "terminate called without an active
        exception"); after a failure this rank leaves at once, since the others may be inside a
        different collective, and torchrun stops them when this process exits non-zero."""
        if self.started_here and dist.is_initialized():
            try:
                if together:
                    dist.barrier()
                    self._all_returned()
            finally:
                dist.destroy_process_group()

    def _all_returned(self, timeout: float = 60.0) -> None:
        """Wait until every rank has *returned* from the last gloo barrier. A rank that leaves the
        barrier first and tears gloo down closes the sockets another rank may still be reading its
        last message from, and that rank aborts ("terminate called without an active exception").
        The count goes through the rendezvous store, which outlives the ranks' gloo connections."""
        try:
            store = dist.distributed_c10d._get_default_store()
        except Exception:  # noqa: BLE001 - an older torch: the barrier alone
            return
        store.add("workbench/left-gloo", 1)
        deadline = time.monotonic() + timeout
        while store.add("workbench/left-gloo", 0) < self.world and time.monotonic() < deadline:
            time.sleep(0.005)
