"""Checkpoints: round trip, last-K pruning (mid-epoch files too), a kill during saving, a file
cut in half, clear errors."""
import logging
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from engine_utils import REPO_ROOT
from fault_injection import sigkill_when_file_appears
from hiera_video.engine.build import load_test_weights
from hiera_video.engine.checkpoint import CheckpointError, Checkpointer, load_checkpoint_file, rng_state, set_rng_state
from hiera_video.models import create_model


def tiny_model(num_classes=6):
    return create_model("hiera_tiny_16x224", num_classes=num_classes, input_size=(4, 64, 64), embed_dim=16,
                        num_heads=1, stages=(1, 1, 1, 1))


def test_round_trip_restores_model_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = tiny_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 4, 64, 64)).sum().backward()
    opt.step()
    ck = Checkpointer(str(tmp_path), keep=2)
    ck.save({"model_state": model.state_dict(), "optimizer_state": opt.state_dict(), "rng_states": [rng_state()],
             "epoch": 1, "iteration": 7}, epoch=1)
    expected_draw = torch.rand(3)

    other = tiny_model()
    other_opt = torch.optim.AdamW(other.parameters(), lr=1e-3)
    state = ck.load_last()
    other.load_state_dict(state["model_state"])
    other_opt.load_state_dict(state["optimizer_state"])
    set_rng_state(state["rng_states"][0])
    assert state["epoch"] == 1 and state["iteration"] == 7 and state["path"] == ck.path(1)
    for (n, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), n
    exp_avg = lambda o: [s["exp_avg"] for s in o.state_dict()["state"].values()]  # noqa: E731
    assert all(torch.equal(a, b) for a, b in zip(exp_avg(opt), exp_avg(other_opt)))
    assert torch.equal(torch.rand(3), expected_draw)


def test_keeps_last_k(tmp_path):
    ck = Checkpointer(str(tmp_path), keep=2)
    for epoch in (1, 2, 3, 4):
        ck.save({"epoch": epoch}, epoch)
    assert [os.path.basename(p) for p in ck.list()] == ["checkpoint_epoch_00003.pyth", "checkpoint_epoch_00004.pyth"]
    assert ck.load_last()["epoch"] == 4


KILLED_SAVE = textwrap.dedent("""
    import sys, time
    from hiera_video.engine.checkpoint import Checkpointer

    class Stall:  # pickling it announces itself, then hangs: the kill lands mid-save
        def __reduce__(self):
            open(sys.argv[2], "w").close()
            time.sleep(600)

    ck = Checkpointer(sys.argv[1], keep=3)
    ck.save({"epoch": 1, "weights": list(range(1000))}, 1)
    ck.save({"epoch": 2, "weights": list(range(1000)), "stall": Stall()}, 2)
""")


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    marker = tmp_path / "saving"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(tmp_path), str(marker)], env=env)
    sigkill_when_file_appears(proc, str(marker), timeout=60)  # the second save has started
    ck = Checkpointer(str(tmp_path), keep=3)
    leftovers = os.listdir(ck.dir)
    assert any(".tmp." in n for n in leftovers), leftovers  # the interrupted write
    assert [os.path.basename(p) for p in ck.list()] == ["checkpoint_epoch_00001.pyth"]
    state = ck.load_last()
    assert state["epoch"] == 1 and state["weights"] == list(range(1000))
    ck.save({"epoch": 2}, 2)  # the next save clears the leftover
    assert sorted(os.listdir(ck.dir)) == ["checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pyth"):
        load_checkpoint_file(str(tmp_path / "nothere.pyth"))
    with pytest.raises(FileNotFoundError, match="nothere.pyth"):
        load_test_weights(tiny_model(), str(tmp_path / "nothere.pyth"))


def test_test_weights_official_format_and_wrong_head(tmp_path):
    src = tiny_model()
    path = str(tmp_path / "official.pth")
    torch.save({"model_state": src.state_dict()}, path)
    dst = tiny_model()
    load_test_weights(dst, path)
    x = torch.randn(1, 3, 4, 64, 64)
    assert torch.equal(src.eval()(x), dst.eval()(x))
    with pytest.raises(ValueError, match="head of 6 classes.*expects 10"):
        load_test_weights(tiny_model(num_classes=10), path)


def test_mid_epoch_names_order_and_pruning(tmp_path):
    ck = Checkpointer(str(tmp_path), keep=2)
    for epoch, step in [(0, 2), (0, 4), (1, 0), (1, 2), (1, 4), (1, 6)]:
        ck.save({"epoch": epoch, "step_in_epoch": step}, epoch, step)
    # the epoch-1 end supersedes epoch 1's mid-epoch files; the last 2 of epoch 2's are kept
    assert [os.path.basename(p) for p in ck.list()] == [
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002_iter_000004.pyth",
        "checkpoint_epoch_00002_iter_000006.pyth"]
    assert ck.load_last()["step_in_epoch"] == 6
    ck.save({"epoch": 2, "step_in_epoch": 0}, 2)
    assert [os.path.basename(p) for p in ck.list()] == ["checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]


def test_checkpoint_cut_in_half_is_named_and_skipped(tmp_path, caplog):
    ck = Checkpointer(str(tmp_path), keep=3)
    for epoch in (1, 2):
        ck.save({"epoch": epoch, "weights": torch.arange(10000)}, epoch)
    newest = ck.path(2)
    size = os.path.getsize(newest)
    with open(newest, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {re.escape(newest)} \\({size // 2} bytes\\): "
                                              "it is damaged or incomplete"):
        load_checkpoint_file(newest)
    with caplog.at_level(logging.WARNING):
        state = ck.load_last()
    assert state["epoch"] == 1 and state["path"] == ck.path(1)
    assert any(newest in r.getMessage() and "falling back to the previous checkpoint" in r.getMessage()
               for r in caplog.records)
    with open(ck.path(1), "r+b") as f:
        f.truncate(100)
    with pytest.raises(CheckpointError, match="none of the 2 checkpoint"):  # never a silent restart from scratch
        ck.load_last()
