"""A Hugging Face Hub cache seeded with files a test wrote, in the Hub's own layout (what
``huggingface_hub`` leaves after a download), so ``hf-hub:`` ids load offline:

    <cache>/models--<owner>--<name>/blobs/<sha256 of a file>
    <cache>/models--<owner>--<name>/snapshots/<commit>/<file name>  -> ../../blobs/<sha256>
    <cache>/models--<owner>--<name>/refs/main                       (the commit)

``huggingface_hub.scan_cache_dir`` reading it back is the check that the layout is right.
"""
import hashlib
import os
import shutil
from typing import Dict


def seed_hub_cache(cache: str, repo_id: str, files: Dict[str, str]) -> str:
    """Put ``files`` ({name in the repo: local path}) into ``cache`` as ``repo_id``'s main revision;
    returns the snapshot folder."""
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode() + b"".join(sorted(f.encode() for f in files))).hexdigest()
    snapshot = os.path.join(repo, "snapshots", commit)
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    for name, path in files.items():
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        blob = os.path.join(repo, "blobs", digest)
        shutil.copyfile(path, blob)
        link = os.path.join(snapshot, name)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)
    return snapshot
