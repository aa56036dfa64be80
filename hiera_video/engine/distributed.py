"""torch.distributed: launching (spawn / several machines / torchrun) and small collectives.

* One machine: ``NUM_GPUS`` > 1 spawns one process per GPU (NCCL); with ``NUM_GPUS 0``,
  ``NUM_CPU_PROCESSES`` > 1 spawns CPU processes (gloo).
* Several machines: ``--init_method tcp://HOST:PORT --num_shards N --shard_id I`` on each;
  rank = shard_id x processes per machine + local rank.
* torchrun: when ``LOCAL_RANK``/``RANK``/``WORLD_SIZE`` are set the process joins with
  ``env://`` and spawns nothing.
"""
import logging
import os
import socket
from datetime import timedelta
from typing import Any, Callable, List, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

logger = logging.getLogger(__name__)


class DeviceError(RuntimeError):
    """The config asks for devices this machine does not have."""


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


def device_for(cfg) -> torch.device:
    if cfg.NUM_GPUS == 0:
        return torch.device("cpu")
    return torch.device("cuda", torch.cuda.current_device())


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


def check_devices(cfg) -> None:
    """NUM_GPUS must be backed by CUDA devices; the message says how to run on CPU instead."""
    if cfg.NUM_GPUS > 0:
        if not torch.cuda.is_available():
            raise DeviceError(f"NUM_GPUS={cfg.NUM_GPUS} but CUDA is not available on this machine; "
                               "set NUM_GPUS 0 to run on CPU (NUM_CPU_PROCESSES N for N gloo processes)")
        if cfg.NUM_GPUS > torch.cuda.device_count():
            raise DeviceError(f"NUM_GPUS={cfg.NUM_GPUS} but this machine has {torch.cuda.device_count()} "
                               "CUDA device(s); lower NUM_GPUS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup_process(cfg, local_rank: int, procs_per_machine: int) -> None:
    if cfg.NUM_GPUS > 0:
        torch.cuda.set_device(local_rank)
    else:
        # Processes sharing a CPU split its cores instead of each claiming all of them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // procs_per_machine))


def _worker(local_rank: int, procs: int, func: Callable, cfg, init_method: str, backend: str) -> None:
    rank = cfg.SHARD_ID * procs + local_rank
    world = cfg.NUM_SHARDS * procs
    _setup_process(cfg, local_rank, procs)
    dist.init_process_group(backend, init_method=init_method, world_size=world, rank=rank,
                            timeout=timedelta(minutes=30))
    try:
        func(cfg)
    finally:
        dist.destroy_process_group()


def launch_job(cfg, func: Callable, init_method: Optional[str] = None) -> None:
    """Run ``func(cfg)`` in every process of the job (see the module docstring)."""
    check_devices(cfg)
    backend = cfg.DIST_BACKEND if cfg.NUM_GPUS > 0 else "gloo"
    if "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        local_rank = int(os.environ["LOCAL_RANK"])
        _setup_process(cfg, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
        dist.init_process_group(backend, init_method="env://", timeout=timedelta(minutes=30))
        try:
            func(cfg)
        finally:
            dist.destroy_process_group()
        return
    procs = cfg.NUM_GPUS if cfg.NUM_GPUS > 0 else cfg.NUM_CPU_PROCESSES
    if procs * cfg.NUM_SHARDS == 1:
        _setup_process(cfg, 0, 1)
        func(cfg)
        return
    if init_method is None:
        if cfg.NUM_SHARDS > 1:
            raise ValueError(f"NUM_SHARDS={cfg.NUM_SHARDS} machines need a shared rendezvous: "
                             "pass --init_method tcp://HOST:PORT (the same on every machine)")
        init_method = f"tcp://127.0.0.1:{_free_port()}"
    logger.info("launching %d process(es) on this machine (%s, %s)", procs, backend, init_method)
    mp.spawn(_worker, args=(procs, func, cfg, init_method, backend), nprocs=procs, join=True)
