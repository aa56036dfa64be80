"""Reading a config: ``--cfg FILE`` (YAML, ``_BASE_`` allowed) then ``KEY VALUE`` overrides.

Every key is checked against the defaults before merging, so a typo fails at once with
the closest valid keys instead of fvcore's bare ``KeyError``.
"""
import argparse
import difflib
from ast import literal_eval
from typing import Dict, List, Optional, Sequence, Union

from fvcore.common.config import CfgNode

from hiera_video.errors import ConfigError

from .defaults import get_cfg
from .validation import validate_cfg


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """PySlowFast's command line: ``--cfg FILE [--init_method ...] [KEY VALUE ...]``."""
    p = argparse.ArgumentParser(description="Train and/or test a Hiera video model (see README).")
    p.add_argument("--cfg", dest="cfg_file", default=None, help="YAML config file (keys as in hiera_video/config/defaults.py)")
    p.add_argument("--init_method", default=None,
                   help="torch.distributed rendezvous for several machines, e.g. tcp://HOST:PORT")
    p.add_argument("--num_shards", type=int, default=None, help="number of machines (sets NUM_SHARDS)")
    p.add_argument("--shard_id", type=int, default=None, help="rank of this machine (sets SHARD_ID)")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides, e.g. TRAIN.BATCH_SIZE 32")
    return p.parse_args(argv)


def all_keys(cfg: Dict, prefix: str = "") -> List[str]:
    """Dotted names of every leaf key of a CfgNode or a loaded YAML dict, e.g. ``TRAIN.BATCH_SIZE``."""
    keys = []
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        keys.extend(all_keys(v, name + ".") if isinstance(v, dict) else [name])
    return keys


def _check_keys(names: Sequence[str], valid: Sequence[str], source: str, sections: Sequence[str]) -> None:
    """Fail on the first unknown key, naming the closest valid ones."""
    valid_set = set(valid)
    for name in names:
        if name in valid_set or name in sections:
            continue
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
        # A right leaf name in the wrong section ("BATCH_SIZE", "SOLVER.BATCH_SIZE") as well.
        leaf = name.rsplit(".", 1)[-1]
        close += [k for k in valid if k.rsplit(".", 1)[-1] == leaf and k not in close][:3]
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"unknown config key '{name}' in {source}{hint} "
                          "(all keys are listed in hiera_video/config/defaults.py)")


def _default(cfg: CfgNode, name: str):
    node = cfg
    for part in name.split("."):
        node = node[part]
    return node


def _int_to_float(value, default):
    """``1`` where a float is expected reads as ``1.0`` (fvcore would reject the type)."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def merge_overrides(cfg: CfgNode, opts: Sequence[str], source: str = "command line overrides") -> None:
    """Merge ``[KEY, VALUE, KEY, VALUE, ...]`` into ``cfg`` (in place), checking keys and types."""
    opts = list(opts)
    if len(opts) % 2:
        raise ConfigError(f"{source} must be KEY VALUE pairs; '{opts[-1]}' has no value")
    valid = all_keys(cfg)
    _check_keys(opts[0::2], valid, source, sections=())
    for i in range(0, len(opts), 2):
        if isinstance(_default(cfg, opts[i]), float):
            try:
                opts[i + 1] = _int_to_float(literal_eval(opts[i + 1]), 0.0)
            except (ValueError, SyntaxError):
                pass
    try:
        cfg.merge_from_list(opts)
    except (ValueError, AssertionError) as e:
        raise ConfigError(f"bad value in {source}: {e}") from e


def _coerce_floats(d: Dict, defaults: CfgNode) -> None:
    for k, v in d.items():
        if isinstance(v, dict) and isinstance(defaults.get(k), CfgNode):
            _coerce_floats(v, defaults[k])
        elif k in defaults:
            d[k] = _int_to_float(v, defaults[k])


def merge_file(cfg: CfgNode, path: str) -> None:
    """Merge a YAML file (with fvcore ``_BASE_`` inheritance) into ``cfg`` (in place)."""
    from iopath.common.file_io import g_pathmgr

    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"config file not found: {path}")
    loaded = CfgNode.load_yaml_with_base(path, allow_unsafe=True)
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of config sections, e.g. 'TRAIN: {{BATCH_SIZE: 8}}'")
    sections = [k for k, v in cfg.items() if isinstance(v, CfgNode)]
    _check_keys(all_keys(loaded), all_keys(cfg), path, sections)
    _coerce_floats(loaded, cfg)
    try:
        cfg.merge_from_other_cfg(CfgNode(loaded))
    except (ValueError, AssertionError, KeyError) as e:
        raise ConfigError(f"bad value in {path}: {e}") from e


def read_config(cfg_file: Union[str, argparse.Namespace, None] = None, opts: Sequence[str] = (), *,
                num_shards: Optional[int] = None, shard_id: Optional[int] = None) -> CfgNode:
    """Defaults <- ``cfg_file`` <- ``opts`` <- ``num_shards``/``shard_id``: not validated, not frozen.

    ``cfg_file`` may also be the namespace of ``parse_args`` (its ``--cfg``, overrides,
    ``--num_shards`` and ``--shard_id``)."""
    if isinstance(cfg_file, argparse.Namespace):
        args = cfg_file
        cfg_file, opts = args.cfg_file, args.opts or []
        num_shards, shard_id = getattr(args, "num_shards", None), getattr(args, "shard_id", None)
    cfg = get_cfg()
    if cfg_file:
        merge_file(cfg, str(cfg_file))
    merge_overrides(cfg, opts or [])
    if num_shards is not None:
        cfg.NUM_SHARDS = num_shards
    if shard_id is not None:
        cfg.SHARD_ID = shard_id
    return cfg


def load_config(cfg_file: Union[str, argparse.Namespace, None] = None, opts: Sequence[str] = (), *,
                num_shards: Optional[int] = None, shard_id: Optional[int] = None, validate: bool = True) -> CfgNode:
    """``read_config``, then the checks of every task (``validate_cfg``), frozen.

    To run a config, use ``hiera_video.engine.load_config``: it adds the task's own checks
    (and ``MODEL.NUM_CLASSES 0`` counted from the data); this one stays for tools that only
    read keys."""
    cfg = read_config(cfg_file, opts, num_shards=num_shards, shard_id=shard_id)
    if validate:
        validate_cfg(cfg)
    cfg.freeze()
    return cfg


def cfg_from_dump(text: str, source: str = "") -> CfgNode:
    """A config stored as ``cfg.dump()`` text (in a checkpoint or a Hub folder's config.json),
    merged onto today's defaults. Keys this version does not know (an older or newer version's)
    are left out, and named in a warning."""
    import logging

    cfg = get_cfg()
    loaded = CfgNode.load_cfg(text) if isinstance(text, str) else CfgNode(dict(text))
    dropped: List[str] = []

    def known(node, ref, prefix=""):
        out = {}
        for k, v in node.items():
            if k not in ref:
                dropped.append(prefix + k)
            elif isinstance(v, dict) and isinstance(ref[k], CfgNode):
                out[k] = known(v, ref[k], f"{prefix}{k}.")
            else:
                out[k] = v
        return out

    cfg.merge_from_other_cfg(CfgNode(known(loaded, cfg)))
    if dropped:
        logging.getLogger(__name__).warning("%s: stored config keys unknown to this version, ignored: %s",
                                            source or "config", ", ".join(dropped))
    return cfg
