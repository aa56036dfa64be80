"""Serving the page: the workspace first (Gradio reads its folder on import), then the models, the
queue, and on the way out (Ctrl-C, SIGTERM, or a failed start) the whole workspace removed."""
import logging
import os
import signal
from dataclasses import dataclass
from typing import List

from .checks import Limits
from .models import load_app_models
from .workspace import Workspace

logger = logging.getLogger(__name__)


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 7860
    limits: Limits = Limits()
    queue_size: int = 8
    max_file_age: int = 3600  # s: Gradio's delete_cache sweep of files no session end removed
    workdir: str = ""  # parent of the app's temporary folder (default: the system's)
    device: str = "cpu"
    dtype: str = "auto"


def serve(cfg, checkpoint: str, examples: List[str], options: ServeOptions, cfg_file: str = "") -> None:
    """Load what ``checkpoint`` can do and serve the page until interrupted."""
    workspace = Workspace(options.workdir)
    workspace.route_temporary_files()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        models = load_app_models(cfg, checkpoint, cfg_file, options.device, options.dtype)
        logger.info("%s: %s", checkpoint, models.summary())
        from .page import build_page

        page = build_page(models, workspace, options.limits, examples)
        workspace.protect_existing()  # the examples Gradio copied into the cache: everyone's
        page.queue(default_concurrency_limit=1, max_size=options.queue_size)
        page.delete_cache = (min(600, options.max_file_age), options.max_file_age)
        print(f"hiera-app: uploads and results in {workspace.root} (deleted when each session ends, "
              "all of it when the app stops)", flush=True)
        page.launch(server_name=options.host, server_port=options.port,
                    max_file_size=f"{int(options.limits.max_mb * 1e6)}b", ssr_mode=False, show_error=False,
                    quiet=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
        workspace.remove()
        logger.info("removed %s", workspace.root)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # launch() closes the server on it, then the workspace goes
