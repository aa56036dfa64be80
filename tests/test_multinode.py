"""Several machines, on loopback (127.0.0.1 only, gloo on CPU), with real processes:

* two ``run_net`` processes (``--init_method tcp://... --num_shards 2 --shard_id 0|1``) and two
  ``torchrun --nnodes 2 --nproc_per_node 1`` (c10d rendezvous) train, validate and test like one
  process with the same global batch;
* a rank killed with SIGKILL mid-epoch: the other stops within seconds, naming the lost rank;
* ``torchrun --max-restarts 1``: the group restarts, resumes from the mid-epoch checkpoint and
  ends bit-identical to an uninterrupted torchrun run.

Every process runs under a deadline and is killed (with its children) when a test ends.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import List

import pytest
import torch

from engine_utils import REPO_ROOT, RUN_NET, SYNTH, json_stats, synthetic_dir, tiny_opts
from hiera_video.engine.checkpoint import load_checkpoint_file

pytestmark = pytest.mark.slow  # subprocess runs: `pytest -m "not slow"` leaves them out

INJECT = os.path.join(REPO_ROOT, "tests", "fault_injection.py")
# 3 updates of 4 clips (2 per rank), a checkpoint after update 2; test: 5 videos x 3 crops.
EXTRA = ["SOLVER.MAX_EPOCH", "1", "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.BATCH_SIZE", "2",
         "TRAIN.CHECKPOINT_PERIOD_ITERS", "2", "DIST_TIMEOUT_SECONDS", "60"]
DEADLINE_S = 240
STOP_BOUND_S = 30  # the survivor of a killed rank must stop within this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    # A fresh rendezvous store per torchrun restart: with the agent's shared store, restarted
    # workers read the dead workers' gloo addresses and hang (pytorch/pytorch#135712).
    return dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo",
                TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1")


def descendants(pid: int) -> List[int]:
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    found, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


class Processes:
    """Commands started together, logs in files; ``wait`` under a deadline; on exit every
    process still running (and its children: torchrun's workers) is killed."""

    def __init__(self, log_dir):
        self.log_dir, self.procs, self.logs = log_dir, [], []

    def start(self, cmd: List[str]) -> subprocess.Popen:
        log = os.path.join(self.log_dir, f"proc{len(self.procs)}.log")
        with open(log, "w") as f:
            self.procs.append(subprocess.Popen(cmd, cwd=REPO_ROOT, env=env(), stdout=f, stderr=subprocess.STDOUT))
        self.logs.append(log)
        return self.procs[-1]

    def wait(self, timeout: float = DEADLINE_S) -> List[int]:
        end = time.monotonic() + timeout
        for p in self.procs:
            p.wait(timeout=max(1.0, end - time.monotonic()))
        return [p.returncode for p in self.procs]

    def output(self, i: int) -> str:
        with open(self.logs[i]) as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            for pid in [*descendants(p.pid), p.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait(timeout=30)


def run_net_shards(procs: Processes, out, data, prefix=(RUN_NET,)) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    for shard in (0, 1):
        procs.start([sys.executable, *prefix, "--init_method", url, "--num_shards", "2", "--shard_id", str(shard),
                     *tiny_opts(data, out, *EXTRA)])


def torchrun_nodes(procs: Processes, out, data, script=(RUN_NET,), restarts: int = 0) -> None:
    port, run_id = free_port(), f"hiera{os.getpid()}_{time.monotonic_ns()}"
    for _ in (0, 1):
        procs.start([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                     "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", run_id,
                     "--local_addr", "127.0.0.1", "--max-restarts", str(restarts), "--monitor-interval", "0.2",
                     *script, *tiny_opts(data, out, *EXTRA)])


def summary(out) -> dict:
    """Train losses, validation and test results, final weights of a run."""
    log = os.path.join(out, "stdout.log")
    final = load_checkpoint_file(os.path.join(out, "checkpoints", "checkpoint_epoch_00001.pyth"))
    with open(os.path.join(out, "test_results.json")) as f:
        test = json.load(f)
    return {"losses": [r["loss"] for r in json_stats(log, "train_iter")], "val": json_stats(log, "val_epoch"),
            "test": test, "weights": final["model_state"]}


def assert_like_one_process(got: dict, one: dict) -> None:
    assert len(got["losses"]) == len(one["losses"]) == 3
    assert torch.allclose(torch.tensor(got["losses"]), torch.tensor(one["losses"]), rtol=1e-5, atol=1e-6)
    for name, p in one["weights"].items():
        assert torch.allclose(p, got["weights"][name], atol=1e-5), name
    (v1,), (v2,) = one["val"], got["val"]
    assert v1["num_videos"] == v2["num_videos"] == SYNTH["NUM_VAL"] and v1["top1"] == v2["top1"]
    assert abs(v1["loss"] - v2["loss"]) < 1e-5
    for key in ("top1", "top5", "num_videos", "num_views"):
        assert got["test"][key] == one["test"][key], key
    assert got["test"]["num_videos"] == SYNTH["NUM_TEST"] and got["test"]["failed_videos"] == []


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def one_process(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    with Processes(str(out)) as procs:
        procs.start([sys.executable, RUN_NET, *tiny_opts(data, out, *EXTRA)])
        assert procs.wait() == [0], procs.output(0)[-3000:]
    return summary(str(out))


@pytest.fixture(scope="module")
def torchrun_uninterrupted(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    with Processes(str(out)) as procs:
        torchrun_nodes(procs, out, data)
        assert procs.wait() == [0, 0], procs.output(0)[-3000:] + procs.output(1)[-3000:]
    return summary(str(out))


def test_two_run_net_machines_match_one_process(data, one_process, tmp_path):
    with Processes(str(tmp_path)) as procs:
        run_net_shards(procs, tmp_path / "out", data)
        assert procs.wait() == [0, 0], procs.output(0)[-3000:] + procs.output(1)[-3000:]
    got = summary(str(tmp_path / "out"))
    assert "2 process(es)" in (tmp_path / "out" / "stdout.log").read_text()
    assert_like_one_process(got, one_process)


def test_torchrun_two_nodes_match_one_process(one_process, torchrun_uninterrupted):
    assert_like_one_process(torchrun_uninterrupted, one_process)


@pytest.mark.parametrize("victim", [1, 0])  # rank 0 also hosts the tcp:// rendezvous store
def test_killed_rank_stops_the_other_naming_it(data, tmp_path, victim):
    with Processes(str(tmp_path)) as procs:
        run_net_shards(procs, tmp_path / "out", data, (INJECT, "kill", "2", "--rank", str(victim), "--"))
        killed, survivor = procs.procs[victim], procs.procs[1 - victim]
        end = time.monotonic() + DEADLINE_S
        while killed.poll() is None:
            assert time.monotonic() < end and survivor.poll() is None, procs.output(1 - victim)[-3000:]
            time.sleep(0.05)
        died = time.monotonic()
        assert killed.returncode == -signal.SIGKILL
        survivor.wait(timeout=STOP_BOUND_S)  # raises TimeoutExpired on a hang
        stopped_after = time.monotonic() - died
        text = procs.output(1 - victim)
    assert survivor.returncode == 1, text[-3000:]
    expected = ("run_net: error: rank 0 of 2: lost rank 1 of 2" if victim == 1 else
                "run_net: error: rank 1 of 2: lost the rendezvous store (tcp://127.0.0.1:")
    assert expected in text, text[-3000:]
    print(f"rank {1 - victim} stopped {stopped_after:.1f} s after rank {victim} was killed")


def test_torchrun_max_restarts_resumes_and_matches_uninterrupted(data, torchrun_uninterrupted, tmp_path):
    out = tmp_path / "out"
    with Processes(str(tmp_path)) as procs:
        # rank 1's worker is killed (SIGKILL) in its first attempt, after the checkpoint of update 2
        torchrun_nodes(procs, out, data, (INJECT, "kill", "2", "--rank", "1", "--"), restarts=1)
        assert procs.wait() == [0, 0], procs.output(0)[-3000:] + procs.output(1)[-3000:]
        agents = procs.output(0) + procs.output(1)
    assert "exitcode: -9" in agents  # the agent saw its worker killed, and restarted the group
    log = (out / "stdout.log").read_text()
    ckpt = out / "checkpoints" / "checkpoint_epoch_00001_iter_000002.pyth"
    assert f"resumed from {ckpt} (epoch 0, iteration 2, update 2 of epoch 1)" in log
    got = summary(str(out))
    assert got["losses"][-1] == torchrun_uninterrupted["losses"][-1]  # update 3, redone after the restart
    for name, p in torchrun_uninterrupted["weights"].items():
        assert torch.equal(p, got["weights"][name]), name
    assert got["test"]["top1"] == torchrun_uninterrupted["test"]["top1"]
    assert got["test"]["top5"] == torchrun_uninterrupted["test"]["top5"]
