"""Persistent loader workers stop when training ends, not in a later garbage-collection pass.

A trainer and its hooks are a reference cycle, so training's loaders (persistent workers)
used to live until ``gc.collect()`` before the test; torch's shutdown there found the
workers' queues already finalised and waited its 5 s join timeout per worker: 10 s of the
main job's 16 s test phase.
"""
import multiprocessing
import time

from engine_utils import synthetic_dir, tiny_cfg


def _new_children(before):
    return [p for p in multiprocessing.active_children() if p.pid not in before]


def test_train_stops_the_loader_workers_when_it_returns(tmp_path_factory, tmp_path):
    from hiera_video.engine.runner import run_training
    from hiera_video.engine.tasks import task_class

    cfg = tiny_cfg(synthetic_dir(tmp_path_factory), tmp_path, "DATA_LOADER.NUM_WORKERS", "1", "SOLVER.MAX_EPOCH", "1",
                   "SOLVER.WARMUP_EPOCHS", "0.0")
    before = {p.pid for p in multiprocessing.active_children()}
    t0 = time.perf_counter()
    checkpoint = run_training(cfg, task_class(cfg.TASK)(cfg))
    elapsed = time.perf_counter() - t0
    assert checkpoint and checkpoint.endswith("checkpoint_epoch_00001.pyth")
    # No gc.collect() here: the train and val workers must already be gone.
    assert _new_children(before) == [], f"loader workers still running after train() ({elapsed:.1f} s)"


def test_close_stops_persistent_workers_and_the_loader_still_iterates(tmp_path_factory, tmp_path):
    from hiera_video.data import build_loader

    cfg = tiny_cfg(synthetic_dir(tmp_path_factory), tmp_path, "DATA_LOADER.NUM_WORKERS", "1")
    loader = build_loader(cfg, "val")
    before = {p.pid for p in multiprocessing.active_children()}
    first = [b["index"].tolist() for b in loader]
    assert len(_new_children(before)) == 1  # the persistent worker stays between epochs
    t0 = time.perf_counter()
    loader.close()
    assert time.perf_counter() - t0 < 4.0  # well inside torch's 5 s join timeout
    assert _new_children(before) == []
    loader.close()  # twice is harmless
    assert [b["index"].tolist() for b in loader] == first  # a new iteration starts new workers
    loader.close()
    assert _new_children(before) == []
