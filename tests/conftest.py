import logging
import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_VIDEOS = os.path.join(REPO_ROOT, "..", "shared", "data", "real_videos")


@pytest.fixture
def real_videos_dir():
    """The real clips shipped beside the repository (dog.mp4, goat.mp4)."""
    if not os.path.isdir(REAL_VIDEOS):
        pytest.skip(f"real clips not found at {REAL_VIDEOS}")
    return REAL_VIDEOS


@pytest.fixture(autouse=True)
def _quiet_logs():
    logging.getLogger("hiera_video").setLevel(logging.INFO)
