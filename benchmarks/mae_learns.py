"""Does the MAE learn? Its validation loss against trivial predictors, on the same clips and masks.

    python benchmarks/mae_learns.py --steps 8000 --eval-every 1000 --threads 2 --train-clips 1200 \
        --save runs/mae_learns/mae.pyth --json runs/mae_learns/norm_8000.json MASK.NORM_PIX_LOSS True
    python benchmarks/mae_learns.py --checkpoint runs/synthetic_mae/checkpoints/checkpoint_epoch_00020.pyth

The first form pretrains an MAE built from the config exactly as ``TASK mae`` builds it
(MODEL.*, HIERA.*, MASK.*, DATA.NUM_FRAMES / TRAIN_CROP_SIZE), on clips rendered in memory by
the demo's generator (``hiera_video/synthetic/motion.py``: the same appearances and motions
as the MP4 dataset, without the H.264 round trip and the decoding, so a CPU can take
thousands of steps): ``--train-clips`` clips of the train split, each step a batch of
TRAIN.BATCH_SIZE random 8-frame windows (DATA.SAMPLING_RATE apart) of random clips, with
DATA.TRAIN_CROP_MODE ``random_resized`` crops when the config asks for them; AdamW with
SOLVER.BASE_LR x batch / 256, SOLVER.BETAS, SOLVER.WEIGHT_DECAY (none on 1-D parameters and
position embeddings), linear warmup over ``--warmup`` of the steps, then cosine to 0.
The second form evaluates a ``run_net`` checkpoint (its stored cfg) on that run's own
validation loader instead.

What is compared, exactly: the mean squared error over the *masked* prediction tokens, in the
target space the model is trained on (MASK.TARGET / MASK.NORM_PIX_LOSS: plain pixels
normalised by DATA.MEAN / DATA.STD, or each 16x16 patch normalised to mean 0, var 1), which
is the model's own loss. Every predictor sees the same validation clips (the centre window of
``--val-clips`` val clips) with the same keep-masks (drawn per clip from RNG_SEED and the
clip's index, as ``TASK mae`` validation draws them):

* ``zero``: predict 0 for every target value (the dataset mean colour in plain-pixel space);
* ``mean_colour``: every masked pixel gets the mean colour of the clip's *visible* pixels;
* ``mean_colour_oracle``: the same with the mean over the whole clip, masked pixels included;
* ``copy_time``: each masked unit copies the target of the nearest visible unit in time at
  the same place (ties: the earlier one); where no unit at that place is visible, the
  visible mean colour;
* ``mae``: the model.

Prints a table and writes everything (settings, wall times, the loss curve) to ``--json``.
"""
import argparse
import json
import math
import os
import sys
import time
from argparse import Namespace

import numpy as np
import torch
import torch.nn.functional as F

from hiera_video.config.loading import load_config, merge_overrides
from hiera_video.models.mae_targets import make_target
from hiera_video.utils.io import atomic_write

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICTORS = ("zero", "mean_colour", "mean_colour_oracle", "copy_time", "mae")


# ---------------------------------------------------------------------- the model of a config
def build_mae(cfg):
    """The MAE ``TASK mae`` trains for ``cfg`` (its task's ``build_model``)."""
    import hiera_video.engine as engine  # importing the engine registers its tasks

    if hasattr(engine, "task_class"):
        return engine.task_class("mae")(cfg).build_model()
    return engine.TASKS["mae"](cfg).build_model()


# ---------------------------------------------------------------------- masks and predictors
def val_keep_mask(model, indices, seed: int, views=None) -> torch.Tensor:
    """Keep-masks ``[B, U]`` drawn as ``TASK mae`` validation draws them: from (seed, clip index, view)."""
    views = [0] * len(indices) if views is None else views
    kept = model.num_kept(model.mask_ratio)
    noise = torch.stack([torch.rand(model.num_mask_units, generator=torch.Generator().manual_seed(
        (seed * 1_000_003 + int(i)) * 1_009 + int(v))) for i, v in zip(indices, views)])
    return model.keep_mask_from_idx(noise.argsort(dim=1)[:, :kept])


def _target(model, video):
    return make_target(video, model.target, model.pred_stride, model.time_stride, model.norm_pix_loss)


def _unit_of_token(model) -> torch.Tensor:
    """``[N_pred]``: the mask unit (row-major index) of each prediction token (row-major)."""
    grid = [n * u for n, u in zip(model.mask_spatial_shape, model.mu_final)]
    coords = torch.meshgrid(*[torch.arange(g) for g in grid], indexing="ij")
    unit = torch.zeros_like(coords[0])
    for c, u, n in zip(coords, model.mu_final, model.mask_spatial_shape):
        unit = unit * n + c // u
    return unit.flatten()


def _pixel_keep(model, keep_mask, video):
    """Unit keep-mask ``[B, U]`` -> pixel keep-mask ``[B, 1, T, H, W]`` (float)."""
    B = keep_mask.shape[0]
    m = keep_mask.view(B, 1, *model.mask_spatial_shape).float()
    return F.interpolate(m, size=video.shape[2:], mode="nearest")


@torch.no_grad()
def predictor_losses(model, video: torch.Tensor, keep_mask: torch.Tensor) -> dict:
    """Sum over the clips of each predictor's loss (mean over masked tokens and target values), and,
    for ``copy_time`` and ``mae``, the same split by whether a unit at the masked unit's place is visible."""
    model.eval()
    B = video.shape[0]
    token_keep = model.token_keep_mask(keep_mask)  # [B, N]
    label = _target(model, video)  # [B, N, P]
    masked = ~token_keep

    def per_clip(pred):  # [B, N, P] -> [B] mean over masked tokens
        err = (pred - label).pow(2).mean(-1)
        return (err * masked).sum(1) / masked.sum(1)

    pix = _pixel_keep(model, keep_mask, video)
    visible_mean = (video * pix).sum((2, 3, 4)) / pix.sum((2, 3, 4))  # [B, C]
    oracle_mean = video.mean((2, 3, 4))
    const = lambda c: _target(model, c.view(B, -1, 1, 1, 1).expand_as(video).contiguous())  # noqa: E731
    mean_pred, oracle_pred = const(visible_mean), const(oracle_mean)

    # copy_time: nearest visible unit in time at the same place.
    T, rest = model.mask_spatial_shape[0], model.mask_spatial_shape[1:]
    km = keep_mask.view(B, T, -1)  # [B, T, places]
    t = torch.arange(T)
    dist = (t.view(T, 1) - t.view(1, T)).abs().float() + t.view(1, T) * 1e-3  # ties -> the earlier
    d = dist.view(1, T, T, 1).expand(B, T, T, km.shape[-1]).clone()
    d[~km.unsqueeze(1).expand_as(d)] = float("inf")
    src_t = d.argmin(2)  # [B, T (target time), places]
    has_src = torch.isfinite(d.min(2).values)
    unit = _unit_of_token(model)  # [N]
    grid = [n * u for n, u in zip(model.mask_spatial_shape, model.mu_final)]
    per_t = math.prod(grid[1:])  # tokens per token-time-step
    tok_t = torch.arange(label.shape[1]) // per_t  # token time step
    unit_t, unit_place = unit // math.prod(rest), unit % math.prod(rest)
    mu_t = model.mu_final[0]
    src_unit_t = src_t[:, unit_t, unit_place]  # [B, N]
    src_tok = (src_unit_t * mu_t + (tok_t - unit_t * mu_t)) * per_t + torch.arange(label.shape[1]) % per_t
    copied = torch.gather(label, 1, src_tok.unsqueeze(-1).expand_as(label))
    has = has_src[:, unit_t, unit_place]  # [B, N]
    copy_pred = torch.where(has.unsqueeze(-1), copied, mean_pred)

    _, pred, _, _ = model(video, mask=keep_mask)
    mae_pred = label.clone()
    order = torch.argsort(token_keep.to(torch.int8), dim=1, stable=True)[:, : pred.shape[1]]
    mae_pred.scatter_(1, order.unsqueeze(-1).expand_as(pred), pred)

    out = {"zero": per_clip(torch.zeros_like(label)), "mean_colour": per_clip(mean_pred),
           "mean_colour_oracle": per_clip(oracle_pred), "copy_time": per_clip(copy_pred), "mae": per_clip(mae_pred)}
    res = {k: float(v.sum()) for k, v in out.items()}
    for name, p in (("copy_time", copy_pred), ("mae", mae_pred)):
        err = (p - label).pow(2).mean(-1)
        for part, sel in (("seen_place", masked & has), ("unseen_place", masked & ~has)):
            res[f"{name}:{part}"] = (float((err * sel).sum()), float(sel.sum()))
    res["model_loss_check"] = float(model(video, mask=keep_mask)[0]) * B  # the model's own loss, summed
    return res


def summarise(sums: dict, n: int) -> dict:
    out = {k: sums[k] / n for k in PREDICTORS}
    out["model_loss_check"] = sums["model_loss_check"] / n
    for k, v in sums.items():
        if ":" in k:
            out[k] = v[0] / max(v[1], 1)
            out[k.split(":")[1] + "_fraction"] = v[1]
    best = min(("zero", "mean_colour", "copy_time"), key=out.get)
    out["best_trivial"] = best
    out["mae_over_best_trivial"] = out["mae"] / out[best]
    return out


def accumulate(total: dict, part: dict) -> dict:
    for k, v in part.items():
        if isinstance(v, tuple):
            a = total.get(k, (0.0, 0.0))
            total[k] = (a[0] + v[0], a[1] + v[1])
        else:
            total[k] = total.get(k, 0.0) + v
    return total


# ---------------------------------------------------------------------- in-memory clips
def render_split(split: str, count: int, cfg, variant: str) -> torch.Tensor:
    """uint8 ``[count, F, H, W, 3]``: clips ``0..count-1`` of ``split`` as the generator draws them."""
    from hiera_video.synthetic import motion as synthetic

    sc = cfg.DATA.SYNTHETIC
    clips = []
    for n in range(count):
        app, label = synthetic.clip_spec(sc.SEED, split, n, sc.SIZE, **({"variant": variant} if variant else {}))
        clips.append(synthetic.render_clip(app, label, sc.NUM_FRAMES, sc.SIZE))
    return torch.from_numpy(np.stack(clips))


def to_model(clips: torch.Tensor, cfg) -> torch.Tensor:
    """uint8 ``[B, T, H, W, 3]`` -> normalised float ``[B, 3, T, H, W]``."""
    x = clips.float().div_(255)
    mean, std = torch.tensor(cfg.DATA.MEAN), torch.tensor(cfg.DATA.STD)
    return ((x - mean) / std).permute(0, 4, 1, 2, 3).contiguous()


def window(clip: torch.Tensor, start: int, cfg) -> torch.Tensor:
    return clip[start: start + (cfg.DATA.NUM_FRAMES - 1) * cfg.DATA.SAMPLING_RATE + 1: cfg.DATA.SAMPLING_RATE]


def random_resized_crop(x: torch.Tensor, cfg, gen: torch.Generator) -> torch.Tensor:
    """``[T, H, W, C]`` uint8 -> a random crop (area in TRAIN_JITTER_SCALES_RELATIVE, aspect in
    TRAIN_JITTER_ASPECT_RELATIVE) resized to TRAIN_CROP_SIZE (same crop on every frame)."""
    T, H, W, _ = x.shape
    lo, hi = cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE
    alo, ahi = cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE
    for _ in range(10):
        area = H * W * (lo + (hi - lo) * float(torch.rand(1, generator=gen)))
        ar = math.exp(math.log(alo) + (math.log(ahi) - math.log(alo)) * float(torch.rand(1, generator=gen)))
        w, h = int(round(math.sqrt(area * ar))), int(round(math.sqrt(area / ar)))
        if 0 < w <= W and 0 < h <= H:
            break
    else:
        h, w = H, W
    top = int(torch.randint(0, H - h + 1, (1,), generator=gen))
    left = int(torch.randint(0, W - w + 1, (1,), generator=gen))
    crop = x[:, top:top + h, left:left + w].permute(0, 3, 1, 2).float()
    size = cfg.DATA.TRAIN_CROP_SIZE
    out = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def train_batch(train: torch.Tensor, cfg, gen: torch.Generator) -> torch.Tensor:
    span = (cfg.DATA.NUM_FRAMES - 1) * cfg.DATA.SAMPLING_RATE + 1
    idx = torch.randint(0, train.shape[0], (cfg.TRAIN.BATCH_SIZE,), generator=gen)
    starts = torch.randint(0, train.shape[1] - span + 1, (cfg.TRAIN.BATCH_SIZE,), generator=gen)
    clips = [window(train[i], int(s), cfg) for i, s in zip(idx, starts)]
    if cfg.DATA.TRAIN_CROP_MODE == "random_resized":
        clips = [random_resized_crop(c, cfg, gen) for c in clips]
    return to_model(torch.stack(clips), cfg)


def param_groups(model, weight_decay: float):
    skip = set(model.no_weight_decay())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name in skip else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def evaluate(model, val: torch.Tensor, cfg, batch: int = 16) -> dict:
    span = (cfg.DATA.NUM_FRAMES - 1) * cfg.DATA.SAMPLING_RATE + 1
    start = (val.shape[1] - span) // 2
    total = {}
    for lo in range(0, val.shape[0], batch):
        clips = torch.stack([window(c, start, cfg) for c in val[lo:lo + batch]])
        video = to_model(clips, cfg)
        keep = val_keep_mask(model, range(lo, lo + len(clips)), cfg.RNG_SEED)
        accumulate(total, predictor_losses(model, video, keep))
    return summarise(total, val.shape[0])


def train(cfg, args, log) -> dict:
    torch.manual_seed(cfg.RNG_SEED)
    model = build_mae(cfg)
    t0 = time.time()
    train_clips = render_split("train", args.train_clips, cfg, args.variant)
    val_clips = render_split("val", args.val_clips, cfg, args.variant)
    log(f"rendered {len(train_clips)} train / {len(val_clips)} val clips in {time.time() - t0:.1f} s")
    lr = cfg.SOLVER.BASE_LR * cfg.TRAIN.BATCH_SIZE / 256
    opt = torch.optim.AdamW(param_groups(model, cfg.SOLVER.WEIGHT_DECAY), lr=lr, betas=tuple(cfg.SOLVER.BETAS))
    warm = max(1, int(args.warmup * args.steps))
    sched = lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, args.steps - warm)))  # noqa: E731
    gen = torch.Generator().manual_seed(cfg.RNG_SEED + 1)
    curve, running, t_train = [], [], time.time()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr * sched(step)
        model.train()
        loss = model(train_batch(train_clips, cfg, gen), mask_ratio=cfg.MASK.MASK_RATIO)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.SOLVER.CLIP_GRAD_L2NORM > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.SOLVER.CLIP_GRAD_L2NORM)
        opt.step()
        running.append(loss.item())
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            ev = evaluate(model, val_clips, cfg)
            curve.append({"step": step + 1, "train_loss": float(np.mean(running)), "val_mae": ev["mae"],
                          "minutes": round((time.time() - t_train) / 60, 2)})
            running = []
            log(f"step {step + 1}: train {curve[-1]['train_loss']:.4f}  val mae {ev['mae']:.4f}  "
                f"best trivial {ev['best_trivial']} {ev[ev['best_trivial']]:.4f}  ratio {ev['mae_over_best_trivial']:.3f}"
                f"  ({curve[-1]['minutes']} min)")
    if args.save:
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        state = {"model_state": model.state_dict(), "cfg": cfg.dump()}
        atomic_write(args.save, lambda f: torch.save(state, f), fsync=True)
        log(f"saved {args.save}")
    return {"val": ev, "curve": curve, "train_minutes": round((time.time() - t_train) / 60, 2)}


def evaluate_checkpoint(path: str, opts) -> dict:
    """A run_net MAE checkpoint on its own run's validation loader (its stored cfg), same masks as TASK mae."""
    from hiera_video.inference.mae_reconstruction import stored_cfg
    from hiera_video.data import build_loader
    from hiera_video.models.checkpoints import read_state_dict

    cfg = stored_cfg(path)
    if cfg is None:
        raise SystemExit(f"{path} carries no cfg: pass a checkpoint of a run_net MAE run")
    merge_overrides(cfg, list(opts) + ["DATA_LOADER.NUM_WORKERS", "0"])
    model = build_mae(cfg)
    model.load_state_dict(read_state_dict(path))
    total, n = {}, 0
    for batch in build_loader(cfg, "val"):
        keep = val_keep_mask(model, batch["index"], cfg.RNG_SEED, batch.get("view"))
        accumulate(total, predictor_losses(model, batch["video"], keep))
        n += batch["video"].shape[0]
    return {"val": summarise(total, n), "cfg": cfg}


def table(ev: dict) -> str:
    rows = ["| predictor | val loss (masked units) | / best trivial |", "|---|---|---|"]
    best = ev[ev["best_trivial"]]
    for k in PREDICTORS:
        rows.append(f"| {k} | {ev[k]:.4f} | {ev[k] / best:.2f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", default=os.path.join(ROOT, "configs", "Synthetic", "MAE_TINY_DEMO.yaml"))
    p.add_argument("--checkpoint", default="", help="evaluate this run_net checkpoint instead of pretraining")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--warmup", type=float, default=0.05, help="fraction of the steps")
    p.add_argument("--train-clips", type=int, default=600)
    p.add_argument("--val-clips", type=int, default=32)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--variant", default="", help="generator appearance variant (synthetic.VARIANTS)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--save", default="", help="write the pretrained MAE here ({'model_state', 'cfg'})")
    p.add_argument("--json", default="", help="results file (default: print only)")
    p.add_argument("--name", default="")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, flush=True)  # noqa: E731
    t0 = time.time()
    if args.checkpoint:
        res = evaluate_checkpoint(args.checkpoint, args.opts)
        cfg = res.pop("cfg")
    else:
        cfg = load_config(Namespace(cfg_file=args.cfg, opts=list(args.opts)), validate=False)
        res = train(cfg, args, log)
    ev = res["val"]
    print(table(ev))
    print(f"MAE / best trivial ({ev['best_trivial']}): {ev['mae_over_best_trivial']:.3f}; "
          f"copy_time on masked units whose place is seen / unseen: {ev['copy_time:seen_place']:.4f} / "
          f"{ev['copy_time:unseen_place']:.4f}, mae {ev['mae:seen_place']:.4f} / {ev['mae:unseen_place']:.4f}")
    res.update(name=args.name, args={k: v for k, v in vars(args).items()}, wall_minutes=round((time.time() - t0) / 60, 2),
               target=cfg.MASK.TARGET, norm_pix_loss=cfg.MASK.NORM_PIX_LOSS, mask_ratio=cfg.MASK.MASK_RATIO,
               command=" ".join([os.path.basename(sys.executable), *sys.argv]))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
