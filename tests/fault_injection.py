"""Run ``tools/run_net.py`` with one fault injected when a given number of updates is done
(a test helper: the faults are real, only their timing is pinned).

    python tests/fault_injection.py MODE AT [--rank R] [--arg X] -- RUN_NET_ARGS...

MODE, applied on rank R (default 0) when AT updates are done, in the first torchrun attempt:
  stall  create the file --arg, then sleep: the test kills the process with SIGKILL
  kill   SIGKILL this process
  fsize  limit the size of files this process writes to --arg bytes (RLIMIT_FSIZE), so the
         next checkpoint write fails as on a full disk
Imported by tests for ``sigkill_when_file_appears``.
"""
import argparse
import os
import resource
import signal
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
sys.path.insert(0, REPO_ROOT)


def sigkill_when_file_appears(proc, marker: str, timeout: float = 120) -> None:
    """Wait (at most ``timeout`` s) until ``marker`` exists, then SIGKILL ``proc`` and reap it."""
    deadline = time.monotonic() + timeout
    try:
        while not os.path.exists(marker):
            assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before creating {marker}"
            assert time.monotonic() < deadline, f"no {marker} after {timeout} s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def inject(mode: str, arg: str) -> None:
    if mode == "stall":
        open(arg, "w").close()
        time.sleep(600)
    elif mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "fsize":
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(arg), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    else:
        raise ValueError(f"unknown fault {mode}")


def main() -> int:
    argv = sys.argv[1:]
    cut = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("stall", "kill", "fsize"))
    p.add_argument("at", type=int)
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--arg", default="")
    opts = p.parse_args(argv[:cut])

    import run_net
    from hiera_video.utils.collectives import get_rank
    from hiera_video.engine.trainer import Trainer

    original = Trainer.run_step
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"

    def run_step(self, batches):
        if self.iteration == opts.at and get_rank() == opts.rank and first_attempt:
            inject(opts.mode, opts.arg)
        original(self, batches)

    Trainer.run_step = run_step
    return run_net.main(argv[cut + 1:])


if __name__ == "__main__":
    sys.exit(main())
