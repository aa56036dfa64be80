"""torch.distributed: launching (spawn / several machines / torchrun) and process-group set-up (collectives: utils/collectives.py).

* One machine: ``NUM_GPUS`` > 1 spawns one process per GPU (NCCL); with ``NUM_GPUS 0``,
  ``NUM_CPU_PROCESSES`` > 1 spawns CPU processes (gloo).
* Several machines: ``--init_method tcp://HOST:PORT --num_shards N --shard_id I`` on each;
  rank = shard_id x processes per machine + local rank. With one process per machine it is
  the run_net process itself; spawned workers die with their launcher (Linux).
* torchrun: when ``LOCAL_RANK``/``RANK``/``WORLD_SIZE`` are set the process joins with
  ``env://`` and spawns nothing. ``--max-restarts`` needs TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1
  (a warning says so): with the agent's shared store a restarted group hangs at init.

When a process of the job dies, the others fail in their next collective (at once for a
killed process, after DIST_TIMEOUT_SECONDS for a silent one). Each rank that stops posts
its reason to the rendezvous store; a rank stopped by a broken connection waits a few
seconds for the others' reasons, then raises ``LostProcessError`` naming the ranks that
never answered (lost) or the error another rank stopped with.
"""
import logging
import os
import socket
import time
from datetime import timedelta
from typing import Callable, Dict, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hiera_video.utils.collectives import get_world_size

logger = logging.getLogger(__name__)


class DeviceError(RuntimeError):
    """The config asks for devices this machine does not have."""


class LostProcessError(RuntimeError):
    """Another process of the job died, went silent or failed; the message names its rank."""


def device_for(cfg) -> torch.device:
    if cfg.NUM_GPUS == 0:
        return torch.device("cpu")
    return torch.device("cuda", torch.cuda.current_device())


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
    elif "OMP_NUM_THREADS" not in os.environ:
        # Processes sharing a CPU split its cores instead of each claiming all of them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // procs_per_machine))


# A collective that failed because a peer's connection broke (gloo, NCCL, c10d store).
_COMM_ERRORS = ("connection reset", "connection closed", "connection refused", "broken pipe", "timed out",
                "gloo", "nccl")
_ANSWER_WAIT_S = 3.0


def _is_comm_error(e: BaseException) -> bool:
    dist_error = getattr(dist, "DistError", ())
    return isinstance(e, dist_error) or any(w in str(e).lower() for w in _COMM_ERRORS)


def _reasons(store, me: int, world: int, wait_s: float) -> Dict[int, str]:
    """Reasons posted by the other ranks within ``wait_s`` seconds (a rank absent from the
    result never answered)."""
    prefix = f"hiera_video_stop/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/"
    found: Dict[int, str] = {}
    deadline = time.monotonic() + wait_s
    while True:
        for r in range(world):
            if r != me and r not in found and store.check([prefix + str(r)]):
                found[r] = store.get(prefix + str(r)).decode(errors="replace")
        if len(found) == world - 1 or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _post_reason(store, me: int, reason: str) -> None:
    prefix = f"hiera_video_stop/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/"
    store.set(prefix + str(me), reason[:2000])


def _explain_failure(e: Exception, init_method: str) -> Exception:
    """What to raise for ``e`` in a job of several processes (see the module docstring)."""
    me, world = dist.get_rank(), dist.get_world_size()
    own = f"{type(e).__name__}: {e}"
    comm = _is_comm_error(e)
    try:
        store = dist.distributed_c10d._get_default_store()
        store.set_timeout(timedelta(seconds=_ANSWER_WAIT_S))
        _post_reason(store, me, ("lost contact: " if comm else "") + own)
        others = _reasons(store, me, world, _ANSWER_WAIT_S) if comm else {}
    except Exception:  # noqa: BLE001 - the store itself is gone: its host process died
        if not comm:
            return e
        host = "rank 0" if init_method.startswith("tcp://") else "the torchrun agent"
        return LostProcessError(f"rank {me} of {world}: lost the rendezvous store ({init_method}), hosted by "
                                f"{host}: that process died or is unreachable; stopping. First error here: {own}")
    if not comm:
        return e
    lost = [r for r in range(world) if r != me and r not in others]
    failed = {r: why for r, why in others.items() if not why.startswith("lost contact")}
    parts = []
    if lost:
        parts.append(f"lost rank {', '.join(map(str, lost))} of {world} (no answer within {_ANSWER_WAIT_S:.0f} s: "
                     "killed, crashed or unreachable)")
    parts += [f"rank {r} stopped with {why}" for r, why in sorted(failed.items())]
    if not parts:
        parts.append("every other rank lost contact too")
    return LostProcessError(f"rank {me} of {world}: {'; '.join(parts)}; stopping. "
                            f"Error here: {own[:500]}. Run the same command again to resume from the last checkpoint")


def _run_in_group(cfg, func: Callable, init_method: str) -> None:
    """``func(cfg)`` in an initialised process group; failures are explained, then re-raised."""
    try:
        func(cfg)
    except Exception as e:  # noqa: BLE001 - re-raised, with the lost rank named when one was lost
        if get_world_size() > 1:
            explained = _explain_failure(e, init_method)
            if explained is not e:
                raise explained from e
        raise
    finally:
        dist.destroy_process_group()


def _die_with_parent() -> None:
    """Linux: a spawned worker gets SIGKILL when its launcher dies (else a killed run_net
    leaves its workers training, or waiting, on their own)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


def _worker(local_rank: int, procs: int, func: Callable, cfg, init_method: str, backend: str) -> None:
    rank = cfg.SHARD_ID * procs + local_rank
    world = cfg.NUM_SHARDS * procs
    if procs > 1:
        _die_with_parent()
    _setup_process(cfg, local_rank, procs)
    dist.init_process_group(backend, init_method=init_method, world_size=world, rank=rank,
                            timeout=timedelta(seconds=cfg.DIST_TIMEOUT_SECONDS))
    _run_in_group(cfg, func, init_method)


def _warn_shared_store_restarts() -> None:
    """torchrun restarts with the agent's shared store hang or fail in init_process_group (the
    restarted workers find the dead ones' addresses there: pytorch/pytorch#135712)."""
    restarts = int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0") or 0)
    if restarts > 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and os.environ.get("RANK") == "0":
        logger.warning("torchrun --max-restarts %d with the agent's shared rendezvous store: a restarted group can "
                       "hang in init_process_group (pytorch/pytorch#135712); set TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 "
                       "in torchrun's environment", restarts)


def launch_job(cfg, func: Callable, init_method: Optional[str] = None) -> None:
    """Run ``func(cfg)`` in every process of the job (see the module docstring)."""
    check_devices(cfg)
    backend = cfg.DIST_BACKEND if cfg.NUM_GPUS > 0 else "gloo"
    if "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        _warn_shared_store_restarts()
        local_rank = int(os.environ["LOCAL_RANK"])
        _setup_process(cfg, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
        dist.init_process_group(backend, init_method="env://", timeout=timedelta(seconds=cfg.DIST_TIMEOUT_SECONDS))
        _run_in_group(cfg, func, f"env:// ({os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')})")
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
    if procs == 1:  # one process per machine: this one (a kill of run_net is a kill of the rank)
        _worker(0, 1, func, cfg, init_method, backend)
        return
    logger.info("launching %d process(es) on this machine (%s, %s)", procs, backend, init_method)
    mp.spawn(_worker, args=(procs, func, cfg, init_method, backend), nprocs=procs, join=True)
