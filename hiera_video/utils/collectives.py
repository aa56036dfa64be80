"""Where this process stands in the torch.distributed job (1 process and rank 0 without one),
and the few collectives the project uses (no-ops in a single process)."""
from typing import Any, List

import torch
import torch.distributed as dist


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_dist() and get_world_size() > 1:
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (in place on a copy); ``t`` stays where it is."""
    if get_world_size() == 1:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t


def all_gather_object(obj: Any) -> List[Any]:
    if get_world_size() == 1:
        return [obj]
    out = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out
