"""``hiera-app`` as a real server for the tests: ``tools/app.py`` in a subprocess on a free localhost
port, its temporary folder under a folder the test owns, stopped with SIGTERM as a user's Ctrl-C."""
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import List

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = "configs/Synthetic/HIERA_TINY_DEMO.yaml"
TINY = ["HIERA.EMBED_DIM", "16", "HIERA.STAGES", "[1,1,1,1]", "DATA.NUM_FRAMES", "4", "DATA_LOADER.NUM_WORKERS", "0"]
NAMES = ["left", "right", "up", "down", "clockwise", "counterclockwise"]


def tiny_classifier(path: str) -> str:
    """A seeded tiny video Hiera (4 frames x 64 px, 6 classes) saved as a project checkpoint that
    stores its class names (as runs on class folders do); a wide head so the scores differ."""
    from hiera_video import create_model

    torch.manual_seed(0)
    model = create_model("hiera_tiny_16x224", embed_dim=16, num_heads=1, stages=(1, 1, 1, 1), input_size=(4, 64, 64),
                         num_classes=6)
    torch.nn.init.normal_(model.head.projection.weight, std=1.0)
    torch.save({"model_state": model.state_dict(), "class_names": NAMES}, path)
    return path


def demo_top5(video: str, checkpoint: str, *extra: str):
    """``hiera-demo --video``'s printed top-5 (its ``main``, in this process) as [(name, percent, class)]."""
    from hiera_video.cli import demo_net

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        demo_net.main(["--cfg", CFG, "--checkpoint", checkpoint, "--video", video, *extra, *TINY])
    lines = [line.split() for line in out.getvalue().splitlines() if line.strip()[:2] in {f"{i}." for i in range(1, 6)}]
    return [(w[1], float(w[2].rstrip("%")), int(w[-1].rstrip(")"))) for w in lines]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``python tools/app.py ARGS`` with ``--workdir`` and TMPDIR in folders of the test; ``url`` once up."""

    def __init__(self, folder: str, args: List[str]):
        self.workdir = os.path.join(folder, "work")  # the app's temporary folder goes in here
        self.tmpdir = os.path.join(folder, "tmp")  # TMPDIR the server starts with: must stay empty
        os.makedirs(self.workdir)
        os.makedirs(self.tmpdir)
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": REPO, "TMPDIR": self.tmpdir, "GRADIO_ANALYTICS_ENABLED": "False",
               # a closed client ends its session within half a second (Gradio's default waits up to 15 s)
               "GRADIO_HEARTBEAT_INTERVAL": "0.5"}
        self.proc = subprocess.Popen([sys.executable, "tools/app.py", "--port", str(self.port), "--workdir",
                                      self.workdir, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: List[str] = []
        self._up = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._up.wait(180) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("hiera-app did not start:\n" + self.log())
        self.url = f"http://127.0.0.1:{self.port}/"

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Running on local URL" in line:
                self._up.set()
        self._up.set()

    def log(self) -> str:
        return "".join(self.lines)

    @property
    def root(self) -> str:
        """The app's own temporary folder (``hiera-app-*`` under ``workdir``)."""
        (name,) = os.listdir(self.workdir)
        return os.path.join(self.workdir, name)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_for(condition, timeout: float = 20.0, step: float = 0.1) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(step)
    return condition()
