"""torch.distributed on CPU: 2 gloo processes (real ones, through tools/run_net.py) train,
validate and test exactly like 1 process with the same global batch, and the multi-view
test counts each video once although its items do not split evenly over the ranks."""
import json

import pytest
import torch

from engine_utils import SYNTH, json_stats, run_in_process, run_net, synthetic_dir, tiny_opts

pytestmark = pytest.mark.slow  # subprocess runs: `pytest -m "not slow"` leaves them out


def test_two_gloo_processes_match_one_process(tmp_path_factory, tmp_path):
    data = synthetic_dir(tmp_path_factory)
    # No dropout / drop path / mixup: those draw per-rank random numbers by design.
    # Test: 5 videos x 1 clip x 3 crops = 15 items, 8 + 7 over two ranks, one video's views on both.
    extra = ["SOLVER.MAX_EPOCH", "1", "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.BATCH_SIZE", "2"]
    assert SYNTH["NUM_TEST"] * 3 % 2 == 1
    one, two = tmp_path / "one", tmp_path / "two"
    run_in_process(tiny_opts(data, one, *extra))
    res = run_net(tiny_opts(data, two, "NUM_CPU_PROCESSES", "2", *extra))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    it1, it2 = json_stats(one / "stdout.log", "train_iter"), json_stats(two / "stdout.log", "train_iter")
    assert len(it1) == len(it2) == 3
    assert torch.allclose(torch.tensor([r["loss"] for r in it1]), torch.tensor([r["loss"] for r in it2]),
                          rtol=1e-5, atol=1e-6), (it1, it2)
    ck1, ck2 = (torch.load(d / "checkpoints" / "checkpoint_epoch_00001.pyth", weights_only=False) for d in (one, two))
    assert len(ck1["rng_states"]) == 1 and len(ck2["rng_states"]) == 2
    for name, p in ck1["model_state"].items():
        assert torch.allclose(p, ck2["model_state"][name], atol=1e-5), name
    (val1,), (val2,) = json_stats(one / "stdout.log", "val_epoch"), json_stats(two / "stdout.log", "val_epoch")
    assert val1["num_videos"] == val2["num_videos"] == SYNTH["NUM_VAL"]
    assert val1["top1"] == val2["top1"] and abs(val1["loss"] - val2["loss"]) < 1e-5

    r1, r2 = (json.loads((d / "test_results.json").read_text()) for d in (one, two))
    for r in (r1, r2):
        assert r["num_videos"] == SYNTH["NUM_TEST"] and r["num_views"] == 3 and r["failed_videos"] == []
    assert (r1["top1"], r1["top5"]) == (r2["top1"], r2["top5"])
    rows1, rows2 = ([json.loads(x) for x in open(d / "test_predictions.jsonl")] for d in (one, two))
    assert [r["path"] for r in rows1] == [r["path"] for r in rows2] and len(rows1) == SYNTH["NUM_TEST"]
    for a, b in zip(rows1, rows2):
        assert a["top5"] == b["top5"] and max(abs(x - y) for x, y in zip(a["scores"], b["scores"])) < 1e-5
