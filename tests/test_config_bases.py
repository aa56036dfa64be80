"""Every config under configs/ resolves to the values in tests/config_snapshot.json.

The snapshot was written before the configs were rebased on ``_BASE_`` files, so moving
shared keys into a base (or between bases) must leave each config's values unchanged. It
stores, per config, the keys whose merged value differs from ``get_cfg()``'s defaults: the
same check as comparing the fully merged configs while the defaults stay put, and a new
default key does not break it. Regenerate (only after a change of values you mean) with

    python tests/test_config_bases.py --write

``configs/Synthetic/MAE_TINY_DEMO.yaml`` and ``HIERA_TINY_FROM_MAE.yaml`` are left out:
their values are being changed on purpose elsewhere.
"""
import glob
import json
import os
import sys

import pytest

from hiera_video.config.defaults import get_cfg
from hiera_video.config.loading import merge_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOT = os.path.join(ROOT, "tests", "config_snapshot.json")
EXCLUDED = {"configs/Synthetic/MAE_TINY_DEMO.yaml", "configs/Synthetic/HIERA_TINY_FROM_MAE.yaml"}


def config_files():
    """Configs a user passes to ``--cfg`` (``_BASE_`` files live in folders named ``_base_``)."""
    paths = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))
    rel = [os.path.relpath(p, ROOT) for p in paths]
    return [r for r in rel if r not in EXCLUDED and "/_base_/" not in r and not os.path.basename(r).startswith("_")]


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def resolved(rel_path):
    """``{dotted key: value}`` of the merged config where it differs from the defaults."""
    cfg = get_cfg()
    merge_file(cfg, os.path.join(ROOT, rel_path))
    merged, defaults = _flat(json.loads(json.dumps(cfg))), _flat(json.loads(json.dumps(get_cfg())))
    return {k: v for k, v in merged.items() if defaults.get(k, object()) != v}


def _snapshot():
    with open(SNAPSHOT) as f:
        return json.load(f)


def test_snapshot_covers_every_config():
    assert sorted(_snapshot()) == config_files()


@pytest.mark.parametrize("rel_path", config_files())
def test_config_resolves_to_snapshot(rel_path):
    assert resolved(rel_path) == _snapshot()[rel_path]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with open(SNAPSHOT, "w") as f:
        json.dump({p: resolved(p) for p in config_files()}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {SNAPSHOT}")
