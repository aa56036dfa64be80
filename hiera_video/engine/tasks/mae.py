"""TASK mae: sparse MAE pretraining (paper section 4, appendix A, table 11a).

Model: ``create_model("mae_" + MODEL.MODEL_NAME)`` (a ``mae_`` name is taken as is) with
the encoder from MODEL.*/HIERA.*/DATA.* as for finetuning, the decoder from
HIERA.DECODER_{EMBED_DIM,DEPTH,NUM_HEADS} and the masking from MASK.* (MASK_RATIO, TARGET
``pixel`` | ``hog``, NORM_PIX_LOSS). Labels are ignored.

Step: the model's masked reconstruction loss; json_stats also get ``mask_fraction`` (the
fraction of mask units deleted). Validation and test: the mean loss over the loader with
each clip's mask drawn from RNG_SEED, its video and its view, so numbers compare across
epochs and runs whatever the batch size or process count. TRAIN.CHECKPOINT_FILE_PATH may be an MAE checkpoint (continue) or a
classifier (encoder loaded, decoder fresh, logged). Checkpoints keep the official MAE key
names, so finetuning (TASK classification) initialises from them like from the release's.
"""
import logging
from typing import Dict

import torch

from hiera_video.config import require
from hiera_video.errors import ConfigError
from hiera_video.models.weights import CLASSIFIER_ONLY, MAE_ONLY, load_weights
from hiera_video.models.zoo import MAE_HINT, warn_if_not_release_heads
from hiera_video.models.zoo import create_model
from hiera_video.utils.collectives import all_reduce_sum

from ..build import checkpoint_path, model_kwargs
from .base import Task, register_task

logger = logging.getLogger(__name__)


def mae_model_name(name: str) -> str:
    return name if name.startswith("mae_") else "mae_" + name


@register_task
class MAETask(Task):
    """Masked-autoencoder pretraining of a Hiera encoder (see the module docstring)."""

    name = "mae"

    @classmethod
    def validate(cls, cfg) -> None:
        k, h = cfg.MASK, cfg.HIERA
        require(0 < k.MASK_RATIO < 1, "MASK.MASK_RATIO", k.MASK_RATIO,
                "must be in (0, 1): the fraction of mask units deleted (0.9 for video, 0.6 for images)")
        require(k.TARGET in ("pixel", "hog"), "MASK.TARGET", k.TARGET, "expected pixel or hog")
        require(not cfg.MIXUP.ENABLE, "MIXUP.ENABLE", cfg.MIXUP.ENABLE,
                "mixup/cutmix needs labels; MAE pretraining has none")
        for section in ("TRAIN", "TEST"):
            require(cfg[section].DATASET.lower() != "ava", f"{section}.DATASET", cfg[section].DATASET,
                    "TASK mae reads video clips (kinetics or ssv2), not AVA keyframes")
        for key in ("DECODER_EMBED_DIM", "DECODER_DEPTH", "DECODER_NUM_HEADS"):
            require(h[key] >= 1, f"HIERA.{key}", h[key], "must be >= 1")
        require(h.DECODER_EMBED_DIM % h.DECODER_NUM_HEADS == 0, "HIERA.DECODER_NUM_HEADS", h.DECODER_NUM_HEADS,
                f"must divide HIERA.DECODER_EMBED_DIM={h.DECODER_EMBED_DIM}")

    def build_model(self, for_test: bool = False):
        cfg = self.cfg
        kw = model_kwargs(cfg, for_test)
        kw.update(decoder_embed_dim=cfg.HIERA.DECODER_EMBED_DIM, decoder_depth=cfg.HIERA.DECODER_DEPTH,
                  decoder_num_heads=cfg.HIERA.DECODER_NUM_HEADS, mask_ratio=cfg.MASK.MASK_RATIO,
                  target=cfg.MASK.TARGET, norm_pix_loss=cfg.MASK.NORM_PIX_LOSS)
        name = mae_model_name(cfg.MODEL.MODEL_NAME)
        try:
            model = create_model(name, **kw)
            model.num_kept(cfg.MASK.MASK_RATIO)  # fails early when the ratio keeps no unit (or all)
        except ValueError as e:
            raise ConfigError(f"cannot build {name} from MODEL.*/HIERA.*/MASK.*/DATA.* ({e})") from None
        return model

    def load_train_init(self, model, path: str) -> None:
        """An MAE checkpoint, or a classifier's encoder (the decoder then starts fresh, with a warning)."""
        warn_if_not_release_heads(model, path)
        load_weights(model, checkpoint_path(model, path), drop=CLASSIFIER_ONLY, fresh=MAE_ONLY, hint=MAE_HINT)

    def load_test_weights(self, model, path: str) -> None:
        """An MAE checkpoint only: a classifier's would leave the decoder random."""
        load_weights(model, checkpoint_path(model, path), drop=CLASSIFIER_ONLY,
                     hint="an MAE checkpoint is needed: a file with no MAE decoder is a classifier's")

    def training_step(self, model, batch: Dict, device):
        video = batch["video"].to(device, non_blocking=True)
        loss, _, _, keep_mask = model(video, mask_ratio=self.cfg.MASK.MASK_RATIO)
        return loss, {"mask_fraction": 1.0 - keep_mask.float().mean().item()}

    @torch.no_grad()
    def mean_loss(self, model, loader, device, autocast) -> Dict[str, float]:
        """Mean reconstruction loss over ``loader`` (all ranks); each clip's mask from RNG_SEED, its video and view."""
        was_training = model.training
        model.eval()
        totals = torch.zeros(2, dtype=torch.float64)  # loss x clips, clips
        failed_views = torch.zeros(loader.dataset.num_videos, dtype=torch.float64)
        kept = model.num_kept(self.cfg.MASK.MASK_RATIO)
        for batch in loader:
            ok = batch["ok"].bool() if "ok" in batch else torch.ones(batch["video"].shape[0], dtype=torch.bool)
            failed_views.index_add_(0, batch["index"][~ok], torch.ones(int((~ok).sum()), dtype=torch.float64))
            if not ok.any():
                continue
            video = batch["video"][ok].to(device, non_blocking=True)
            # One mask per clip from (seed, video, view): the same whatever the batch size or process count.
            views = batch["view"][ok] if "view" in batch else torch.zeros(int(ok.sum()), dtype=torch.long)
            noise = torch.stack([
                torch.rand(model.num_mask_units, generator=torch.Generator().manual_seed(
                    (self.cfg.RNG_SEED * 1_000_003 + int(index)) * 1_009 + int(view)))
                for index, view in zip(batch["index"][ok], views)])
            mask = model.keep_mask_from_idx(noise.argsort(dim=1)[:, :kept].to(device))
            with autocast():
                loss = model(video, mask=mask)[0]
            totals += torch.tensor([float(loss) * video.shape[0], video.shape[0]], dtype=torch.float64)
        model.train(was_training)
        flat = all_reduce_sum(torch.cat([totals, failed_views]).to(device)).cpu()
        totals, failed_views = flat[:2], flat[2:]
        if totals[1] == 0:
            raise RuntimeError("no clip could be decoded for the MAE loss (see the decode warnings above)")
        # a video is left out when none of its views decoded (a partly decoded one still counts)
        views = getattr(loader.dataset, "num_views", 1)
        failed = [loader.dataset.video_paths[v] for v in (failed_views >= views).nonzero().flatten().tolist()]
        if failed:
            logger.warning("MAE loss (%s): %d videos could not be decoded and are left out: %s",
                           loader.dataset.split, len(failed), ", ".join(failed))
        return {"loss": float(totals[0] / totals[1]), "num_clips": int(totals[1]), "num_failed": len(failed),
                "failed_videos": failed}

    def evaluate(self, model, loader, device, autocast):
        return self.mean_loss(model, loader, device, autocast)

    def test(self, model, loader, device, autocast, checkpoint):
        res = self.mean_loss(model, loader, device, autocast)
        return {**res, "mask_ratio": self.cfg.MASK.MASK_RATIO, "target": self.cfg.MASK.TARGET,
                "checkpoint": checkpoint}

    def summary(self, results):
        return (f"MAE reconstruction loss {results['loss']:.4f} over {results['num_clips']} clips "
                f"(mask ratio {results['mask_ratio']:g})")
