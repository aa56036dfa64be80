"""The Hugging Face Hub's model format: a folder of ``model.safetensors``, ``config.json`` and a
``README.md`` model card; ``hf-hub:owner/name[@revision]`` ids fetched into huggingface_hub's cache.

Two kinds of ``config.json`` are read:

* the official release's (``facebook/hiera_base_16x224.mae_k400_ft_k400``, written by
  ``PyTorchModelHubMixin``): the reference constructor's arguments that differ from its
  defaults, e.g. ``{"input_size": [16, 224, 224], "num_classes": 400, ...}``;
* this project's (``save_pretrained``, ``hiera-export --format hf``): ``{"library": "hiera_video",
  "model_name", "model_args", "class_names", "clip": {...}, "mean", "std", "cfg"}``.

Offline (``HF_HUB_OFFLINE=1`` or ``HIERA_VIDEO_OFFLINE=1``) an id is taken from the cache only,
and a missing one fails at once naming the repo id and the cache folder.
"""
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import torch

HUB_PREFIX = "hf-hub:"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
LIBRARY = "hiera_video"
_FILES = ["*.json", "*.safetensors", "*.md"]  # what a snapshot needs; nothing else is fetched
_OFFLINE_ENVS = ("HF_HUB_OFFLINE", "HIERA_VIDEO_OFFLINE")


class HubModelUnavailable(FileNotFoundError):
    """An ``hf-hub:`` id that is neither in the cache nor downloadable now."""


def is_hub_id(source) -> bool:
    return isinstance(source, str) and source.startswith(HUB_PREFIX)


def split_hub_id(source: str) -> Tuple[str, Optional[str]]:
    """``"hf-hub:owner/name@rev"`` -> ``("owner/name", "rev")`` (revision None when absent)."""
    repo, _, revision = source[len(HUB_PREFIX):].partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"'{source}' is not a Hub id; expected hf-hub:owner/name (optionally @revision), "
                         "e.g. hf-hub:facebook/hiera_base_16x224.mae_k400_ft_k400")
    return repo, revision or None


def hub_cache_dir() -> str:
    """huggingface_hub's cache as its environment sets it now: HF_HUB_CACHE, else HF_HOME/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                                     "huggingface")
    return os.path.join(home, "hub")


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() not in ("", "0", "false", "no") for k in _OFFLINE_ENVS)


def hub_folder(source: str) -> str:
    """The local snapshot folder of ``hf-hub:`` id ``source``, fetched into the cache if missing."""
    from huggingface_hub import snapshot_download

    repo, revision = split_hub_id(source)
    cache, offline = hub_cache_dir(), _offline()
    try:
        return snapshot_download(repo, revision=revision, cache_dir=cache, local_files_only=offline,
                                 allow_patterns=_FILES, library_name=LIBRARY)
    except Exception as e:  # noqa: BLE001 - not found, offline, no network, no such repo: one message
        how = ("offline (HF_HUB_OFFLINE / HIERA_VIDEO_OFFLINE is set), so only the cache is read"
               if offline else f"and it could not be downloaded ({type(e).__name__}: {str(e)[:300]})")
        raise HubModelUnavailable(
            f"{source}: the Hub model '{repo}'{f' at {revision}' if revision else ''} is not in the Hugging Face "
            f"cache {cache} {how}. Download it where there is a network (huggingface-cli download {repo}) and copy "
            "the cache folder here, or point HF_HUB_CACHE at a cache that holds it") from None


def read_config(folder: str) -> Dict[str, Any]:
    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as f:
            config = json.load(f)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(config).__name__}")
    return config


def model_from_config(config: Dict[str, Any], state_dict: Dict[str, torch.Tensor]) -> Tuple[Optional[str], Dict]:
    """``(model name or None, constructor arguments)`` of a Hub folder's model. This project's
    config names both; the release's holds the reference constructor's non-default arguments
    (which ours share), and an MAE is told by its decoder weights."""
    if config.get("library") == LIBRARY:
        return config.get("model_name"), _tuples(config.get("model_args", {}))
    args = {k: v for k, v in config.items() if k != "norm_layer"}
    if config.get("norm_layer", "LayerNorm") != "LayerNorm":
        raise ValueError(f"config.json asks for norm_layer={config['norm_layer']!r}; only LayerNorm is supported")
    mae = any(k.startswith("decoder_") for k in state_dict)
    return ("mae" if mae else None), _tuples(args)


def _tuples(args: Dict[str, Any]) -> Dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


def encode_metadata(meta: Dict[str, Any]) -> Dict[str, str]:
    """safetensors' header metadata is str -> str: values go in as JSON."""
    return {"format": "pt", **{k: json.dumps(v) for k, v in meta.items() if v is not None}}


def decode_metadata(header: Dict[str, str]) -> Dict[str, Any]:
    out = {}
    for k, v in header.items():
        if k == "format":
            continue
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def model_config(model, class_names: Optional[List[str]] = None, data: Optional[Dict[str, Any]] = None,
                 cfg_yaml: Optional[str] = None) -> Dict[str, Any]:
    """This project's ``config.json`` for ``model`` (built by ``create_model``, which records its
    name and arguments). ``data``: the clip it was trained on (``clip``, ``mean``, ``std``)."""
    if not hasattr(model, "model_args"):
        raise ValueError("save_pretrained needs a model built by hiera_video.create_model (it records the "
                         "model's name and arguments)")
    config = {"library": LIBRARY, "model_name": model.model_name, "model_args": model.model_args,
              "num_classes": getattr(model, "num_classes", None), "class_names": class_names,
              "input_size": list(model.input_size)}
    config.update(data or {})
    if cfg_yaml:
        config["cfg"] = cfg_yaml
    return json.loads(json.dumps(config, default=list))  # tuples -> lists, as they come back


def save_pretrained(model, folder: str, class_names: Optional[List[str]] = None,
                    data: Optional[Dict[str, Any]] = None, cfg_yaml: Optional[str] = None, card: str = "") -> List[str]:
    """Write ``folder/{model.safetensors, config.json, README.md}`` (each atomically); returns the
    paths. ``card``: the model card's body (``model_card``)."""
    from safetensors.torch import save

    from hiera_video.utils.io import atomic_write, write_text

    os.makedirs(folder, exist_ok=True)
    config = model_config(model, class_names, data, cfg_yaml)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = encode_metadata({"model_name": config["model_name"], "class_names": class_names})
    paths = [os.path.join(folder, n) for n in (WEIGHTS_FILE, CONFIG_FILE, CARD_FILE)]
    atomic_write(paths[0], lambda f: f.write(save(state, metadata=meta)), fsync=True)
    write_text(paths[1], json.dumps(config, indent=2) + "\n")
    write_text(paths[2], card or model_card(config))
    return paths


def model_card(config: Dict[str, Any], results: Optional[Dict[str, Any]] = None, command: str = "") -> str:
    """A ``README.md`` for the Hub (huggingface_hub's ``ModelCard``): data, config, test top-1 /
    top-5 and the command that made the model, where known."""
    from huggingface_hub import ModelCard, ModelCardData

    video = len(config.get("input_size", ())) == 3
    data = ModelCardData(library_name=LIBRARY, tags=["hiera", "video-classification" if video else "image-classification"],
                         pipeline_tag="video-classification" if video else "image-classification")
    lines = [f"A {config['model_name']} classifier of {config.get('num_classes')} classes, trained with "
             "hiera_video (Hiera, ICML 2023). Load it with `hiera_video.create_model(\"hf-hub:<this repo's id>\")`, "
             "or from a local copy of this folder with `create_model(\"path/to/folder\")`.", ""]
    clip = config.get("clip")
    if clip:
        lines += ["## Input", "", f"Clips of {clip.get('num_frames')} frames, {clip.get('sampling_rate')} apart at "
                  f"{clip.get('target_fps')} fps, {clip.get('crop_size')} px; mean {config.get('mean')}, std "
                  f"{config.get('std')}.", ""]
    if config.get("class_names"):
        lines += ["## Classes", "", ", ".join(config["class_names"][:50]) + (" ..." if len(config["class_names"]) > 50
                                                                          else ""), ""]
    if results:
        lines += ["## Test results", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in results.items()]
        lines += [""]
    if command:
        lines += ["## How it was made", "", "```bash", command, "```", ""]
    if config.get("cfg"):
        lines += ["## Config", "", "```yaml", config["cfg"].rstrip(), "```", ""]
    card = ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n# {{ title }}\n\n{{ body }}",
                                   title=config["model_name"], body="\n".join(lines))
    return str(card)
