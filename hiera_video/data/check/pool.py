"""The checks run in worker processes; a video that kills its worker costs that video only."""
import multiprocessing
import os
import time
from typing import Dict, List, Tuple

_SOURCES: Dict[str, object] = {}
_SCAN = None  # in a worker: the function that reads a video end to end
_STARTED = None  # in a worker: a queue told each job before it runs (to find one that kills the process)


def _exit_with_parent(parent: int) -> None:
    """A worker's watch: its parent killed (kill -9), it would otherwise wait for jobs forever."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(sources: Dict[str, object], started, scan) -> None:
    import signal
    import threading

    import torch

    global _SCAN, _STARTED
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, lambda *_: os._exit(1))  # Ctrl-C: no traceback per worker
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _SOURCES.clear()
    _SOURCES.update(sources)
    _SCAN, _STARTED = scan, started


def _work(job: Tuple[str, int]) -> Tuple[str, int, List[Dict], Dict]:
    if _STARTED is not None:
        _STARTED.put(job)
    split, i = job
    problems, info = _SOURCES[split].check(i, _SCAN)
    return split, i, problems, info


def results(jobs: List[Tuple[str, int]], sources: Dict[str, object], workers: int, scan):
    """(split, index, problems, info) of each job, in worker processes when ``workers`` > 0.

    A video that kills its worker (a decoder crash) breaks the pool: the jobs that had started
    and not finished are then run one per process, the one that kills it again is reported as
    "crashed", and the rest go on in a new pool.
    """
    global _SCAN
    if workers <= 0:
        _SOURCES.clear()
        _SOURCES.update(sources)
        _SCAN = scan
        yield from map(_work, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # fork: the workers inherit the datasets instead of unpickling them; spawn elsewhere
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    pending = list(jobs)
    while pending:
        started, done, broken = ctx.SimpleQueue(), set(), False
        running = set()
        pool = ProcessPoolExecutor(min(workers, len(pending)), mp_context=ctx, initializer=_init_worker,
                                   initargs=(sources, started, scan))
        try:
            futures = {pool.submit(_work, j): j for j in pending}
            for f in as_completed(futures):
                while not started.empty():  # drained as results come, so the pipe never fills
                    running.add(started.get())
                try:
                    result = f.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                done.add(futures[f])
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        while not started.empty():
            running.add(started.get())
        suspects = [j for j in pending if j in running and j not in done] if broken else []
        for job in suspects:
            yield _alone(job, ctx, sources, scan)
        pending = [j for j in pending if j not in done and j not in suspects]


def _alone(job: Tuple[str, int], ctx, sources, scan) -> Tuple[str, int, List[Dict], Dict]:
    """``_work(job)`` in a process of its own; a "crashed" problem when that process dies."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, initargs=(sources, None, scan)) as pool:
        try:
            return pool.submit(_work, job).result()
        except BrokenProcessPool:
            return (*job, [{"kind": "crashed", "reason": "reading it killed the worker process (a decoder "
                            "crash); the loader would die on it too"}], {})
