"""TASK mae: sparse MAE pretraining (paper section 4, appendix A, table 11a).

Model: ``create_mae_model("mae_" + MODEL.MODEL_NAME)`` (a ``mae_`` name is taken as is) with
the encoder from MODEL.*/HIERA.*/DATA.* as for finetuning, the decoder from
HIERA.DECODER_{EMBED_DIM,DEPTH,NUM_HEADS} and the masking from MASK.* (MASK_RATIO, TARGET
``pixel`` | ``hog``, NORM_PIX_LOSS). Labels are ignored.

Step: the model's masked reconstruction loss; json_stats also get ``mask_fraction`` (the
fraction of mask units deleted). Validation and test: the mean loss over the loader with a
mask drawn from a fixed seed (RNG_SEED and the batch number), so numbers compare across
epochs and runs. TRAIN.CHECKPOINT_FILE_PATH may be an MAE checkpoint (continue) or a
classifier (encoder loaded, decoder fresh, logged). Checkpoints keep the official MAE key
names, so finetuning (TASK classification) initialises from them like from the release's.
"""
from typing import Dict

import torch

from hiera_video.config.loading import ConfigError
from hiera_video.models.mae import create_mae_model, load_mae_pretrained

from .build import model_kwargs
from .distributed import all_reduce_sum, get_rank
from .tasks import Task, register_task


def mae_model_name(name: str) -> str:
    return name if name.startswith("mae_") else "mae_" + name


@register_task("mae")
class MAETask(Task):
    """Masked-autoencoder pretraining of a Hiera encoder (see the module docstring)."""

    def build_model(self, for_test: bool = False):
        cfg = self.cfg
        kw = model_kwargs(cfg, for_test)
        kw.update(decoder_embed_dim=cfg.HIERA.DECODER_EMBED_DIM, decoder_depth=cfg.HIERA.DECODER_DEPTH,
                  decoder_num_heads=cfg.HIERA.DECODER_NUM_HEADS, mask_ratio=cfg.MASK.MASK_RATIO,
                  target=cfg.MASK.TARGET, norm_pix_loss=cfg.MASK.NORM_PIX_LOSS)
        name = mae_model_name(cfg.MODEL.MODEL_NAME)
        try:
            model = create_mae_model(name, **kw)
            model.num_kept(cfg.MASK.MASK_RATIO)  # fails early when the ratio keeps no unit (or all)
        except ValueError as e:
            raise ConfigError(f"cannot build {name} from MODEL.*/HIERA.*/MASK.*/DATA.* ({e})") from None
        return model

    def load_train_init(self, model, path: str) -> None:
        load_mae_pretrained(model, path)

    def load_test_weights(self, model, path: str) -> None:
        load_mae_pretrained(model, path)

    def training_step(self, model, batch: Dict, device):
        video = batch["video"].to(device, non_blocking=True)
        loss, _, _, keep_mask = model(video, mask_ratio=self.cfg.MASK.MASK_RATIO)
        return loss, {"mask_fraction": 1.0 - keep_mask.float().mean().item()}

    @torch.no_grad()
    def mean_loss(self, model, loader, device, autocast) -> Dict[str, float]:
        """Mean reconstruction loss over ``loader`` (all ranks), masks from a fixed seed."""
        was_training = model.training
        model.eval()
        totals = torch.zeros(2, dtype=torch.float64)  # loss x clips, clips
        for i, batch in enumerate(loader):
            ok = batch["ok"].bool() if "ok" in batch else torch.ones(len(batch["label"]), dtype=torch.bool)
            if not ok.any():
                continue
            video = batch["video"][ok].to(device, non_blocking=True)
            g = torch.Generator().manual_seed(self.cfg.RNG_SEED * 1_000_003 + get_rank() * 100_003 + i)
            noise = torch.rand(video.shape[0], model.num_mask_units, generator=g)
            keep = noise.argsort(dim=1)[:, :model.num_kept(self.cfg.MASK.MASK_RATIO)]
            mask = torch.zeros_like(noise, dtype=torch.bool).scatter_(1, keep, True).to(device)
            with autocast():
                loss = model(video, mask=mask)[0]
            totals += torch.tensor([float(loss) * video.shape[0], video.shape[0]], dtype=torch.float64)
        model.train(was_training)
        totals = all_reduce_sum(totals.to(device)).cpu()
        return {"loss": float(totals[0] / max(1.0, float(totals[1]))), "num_clips": int(totals[1])}

    def evaluate(self, model, loader, device, autocast):
        return self.mean_loss(model, loader, device, autocast)

    def test(self, model, loader, device, autocast, checkpoint):
        res = self.mean_loss(model, loader, device, autocast)
        return {**res, "mask_ratio": self.cfg.MASK.MASK_RATIO, "target": self.cfg.MASK.TARGET,
                "checkpoint": checkpoint}
