"""Faults during training, with real processes and files: ``kill -9`` in the middle of an epoch,
a checkpoint cut in half, a disk that fills during a checkpoint write. After each, the same
command resumes and ends bit-identical to an uninterrupted run (weights, optimizer, losses).

Two epochs of 3 updates, a checkpoint every 2 updates and at each epoch end: files after
updates 2 (mid epoch 1), 3 (end of epoch 1), 4 (mid epoch 2, ``..._00002_iter_000001``), 6.
"""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from engine_utils import REPO_ROOT, RUN_NET, json_stats, synthetic_dir, tiny_opts
from fault_injection import sigkill_when_file_appears
from hiera_video.data.samplers import EpochShuffleSampler
from hiera_video.engine.checkpoint import load_checkpoint_file

pytestmark = pytest.mark.slow  # subprocess runs: `pytest -m "not slow"` leaves them out

INJECT = os.path.join(REPO_ROOT, "tests", "fault_injection.py")
# Mixup, drop path, head dropout and a prefetching loader worker: every random stream and the
# sampler position are exercised.
EXTRA = ["SOLVER.MAX_EPOCH", "2", "TRAIN.CHECKPOINT_PERIOD_ITERS", "2", "TEST.ENABLE", "False",
         "TRAIN.EVAL_PERIOD", "5", "MIXUP.ENABLE", "True", "HIERA.DROP_PATH_RATE", "0.1",
         "MODEL.DROPOUT_RATE", "0.2", "DATA_LOADER.NUM_WORKERS", "1"]
MID_EPOCH_2 = "checkpoint_epoch_00002_iter_000001.pyth"


def command(out_dir, data, fault=()):
    prefix = [INJECT, *fault, "--"] if fault else [RUN_NET]
    return [sys.executable, *prefix, *tiny_opts(data, out_dir, *EXTRA)]


def run(cmd, timeout=180) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def losses(out_dir) -> dict:
    """Loss of each update in the run's log (a resumed run logs redone updates again)."""
    return {r["global_iter"]: r["loss"] for r in json_stats(os.path.join(out_dir, "stdout.log"), "train_iter")}


def assert_same_training(out_dir, reference) -> None:
    final = load_checkpoint_file(os.path.join(out_dir, "checkpoints", "checkpoint_epoch_00002.pyth"))
    assert (final["epoch"], final["iteration"]) == (2, 6)
    for name, value in reference["state"]["model_state"].items():
        assert torch.equal(value, final["model_state"][name]), name
    for a, b in zip(reference["state"]["optimizer_state"]["state"].values(),
                    final["optimizer_state"]["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    assert losses(out_dir) == reference["losses"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    res = run(command(out, data))
    assert res.returncode == 0, res.stderr[-3000:]
    state = load_checkpoint_file(str(out / "checkpoints" / "checkpoint_epoch_00002.pyth"))
    first = load_checkpoint_file(str(out / "checkpoints" / "checkpoint_epoch_00001.pyth"))
    # Training moved the weights (guards against comparing two untouched models).
    key = "blocks.0.attn.qkv.weight"
    assert not torch.equal(first["model_state"][key], state["model_state"][key])
    found = losses(out)
    assert sorted(found) == [1, 2, 3, 4, 5, 6]
    return {"state": state, "losses": found}


@pytest.fixture(scope="module")
def killed(data, tmp_path_factory):
    """A run killed with SIGKILL from outside during update 6 (epoch 2), 1 update after its
    last checkpoint."""
    out = tmp_path_factory.mktemp("killed")
    marker = out / "stalled"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(command(out, data, ("stall", "5", "--arg", str(marker))), cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sigkill_when_file_appears(proc, str(marker))  # during update 6
    names = sorted(os.listdir(out / "checkpoints"))
    assert names == ["checkpoint_epoch_00001.pyth", MID_EPOCH_2], names
    assert max(losses(out)) == 5  # update 5 was done (and logged) but is in no checkpoint
    return out


def test_kill_9_mid_epoch_then_same_command_is_bit_identical(data, reference, killed, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(killed, out)
    res = run(command(out, data))
    assert res.returncode == 0, res.stderr[-3000:]
    log = (out / "stdout.log").read_text()
    assert f"resumed from {out / 'checkpoints' / MID_EPOCH_2} (epoch 1, iteration 4, update 1 of epoch 2)" in log
    assert_same_training(out, reference)
    saved = load_checkpoint_file(str(killed / "checkpoints" / MID_EPOCH_2))
    assert saved["sampler"] == {"epoch": 1, "position": 4, "batch_size": 4, "num_replicas": 1}
    assert saved["hooks"]["LossGuard"]["history"] == [reference["losses"][i] for i in (1, 2, 3, 4)]


def test_sampler_started_mid_epoch_continues_the_same_order():
    sampler = EpochShuffleSampler(list(range(20)), num_replicas=2, rank=1, seed=5)
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.set_epoch(3, start=4)
    assert list(sampler) == full[4:] and len(sampler) == len(full) == 10
    sampler.set_epoch(4)  # the position is used once
    assert len(list(sampler)) == 10 and all(epoch == 4 for _, epoch in sampler)


def test_checkpoint_cut_in_half_falls_back_to_the_previous(data, reference, killed, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(killed, out)
    newest = out / "checkpoints" / MID_EPOCH_2
    size = newest.stat().st_size
    with open(newest, "r+b") as f:
        f.truncate(size // 2)
    res = run(command(out, data))
    assert res.returncode == 0, res.stderr[-3000:]
    log = (out / "stdout.log").read_text()
    assert (f"cannot read checkpoint {newest} ({size // 2} bytes): it is damaged or incomplete" in log
            and "falling back to the previous checkpoint" in log), log[-3000:]
    assert f"resumed from {out / 'checkpoints' / 'checkpoint_epoch_00001.pyth'} (epoch 1, iteration 3)" in log
    assert_same_training(out, reference)


def test_disk_full_during_checkpoint_write_keeps_the_previous_one(data, reference, tmp_path):
    out = tmp_path / "run"
    limit = 1_000_000  # bytes per file from update 4 on: the next checkpoint (about 3 MB) cannot be written
    res = run(command(out, data, ("fsize", "3", "--arg", str(limit))))
    target = out / "checkpoints" / MID_EPOCH_2
    assert res.returncode == 1, res.stderr[-3000:]
    assert f"run_net: error: could not write checkpoint {target}: file size limit reached" in res.stderr, \
        res.stderr[-3000:]
    names = sorted(os.listdir(out / "checkpoints"))
    assert names == ["checkpoint_epoch_00001.pyth"], names  # no partial file, no temp file
    previous = load_checkpoint_file(str(out / "checkpoints" / names[0]))
    assert (previous["epoch"], previous["iteration"]) == (1, 3)
    assert os.path.getsize(out / "checkpoints" / names[0]) > limit

    res = run(command(out, data))  # space is back: the same command resumes
    assert res.returncode == 0, res.stderr[-3000:]
    assert_same_training(out, reference)
