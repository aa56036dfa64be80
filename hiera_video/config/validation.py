"""Checks every task needs: values that cannot work, each failing with the key, the value and the reason.

A task's own keys (MASK.* for mae, AVA.* for detection, ...) are checked by that task's
``validate`` (``hiera_video.engine.tasks``); ``hiera_video.engine.load_config`` runs both.
"""
import os

from fvcore.common.config import CfgNode

from hiera_video.errors import ConfigError

LOSSES = ("soft_cross_entropy", "cross_entropy", "bce")
OPTIMIZERS = ("adamw", "sgd")
LR_POLICIES = ("cosine",)
AMP_DTYPES = ("bfloat16", "float16")


def world_size(cfg: CfgNode) -> int:
    """Processes in the whole job: torchrun's WORLD_SIZE, else machines x processes per machine."""
    if "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    per_machine = cfg.NUM_GPUS if cfg.NUM_GPUS > 0 else cfg.NUM_CPU_PROCESSES
    return max(1, per_machine) * cfg.NUM_SHARDS


def require(ok: bool, key: str, value, reason: str) -> None:
    """Raise ``ConfigError("KEY=value: reason")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={value!r}: {reason}")


def validate_cfg(cfg: CfgNode) -> None:
    """Raise ``ConfigError`` on the first impossible value of the sections every task reads
    (the data side checks its own keys where it reads them)."""
    _check_job(cfg)
    _check_train_test(cfg)
    _check_model(cfg)
    _check_solver(cfg.SOLVER)
    _check_mixup(cfg.MIXUP)


def _check_job(cfg: CfgNode) -> None:
    require(cfg.NUM_GPUS >= 0, "NUM_GPUS", cfg.NUM_GPUS, "must be >= 0 (0 runs on CPU)")
    require(cfg.NUM_CPU_PROCESSES >= 1, "NUM_CPU_PROCESSES", cfg.NUM_CPU_PROCESSES, "must be >= 1")
    require(cfg.NUM_SHARDS >= 1, "NUM_SHARDS", cfg.NUM_SHARDS, "must be >= 1 (number of machines)")
    require(0 <= cfg.SHARD_ID < cfg.NUM_SHARDS, "SHARD_ID", cfg.SHARD_ID,
            f"must be in [0, NUM_SHARDS={cfg.NUM_SHARDS})")
    require(cfg.LOG_PERIOD >= 1, "LOG_PERIOD", cfg.LOG_PERIOD, "must be >= 1 iteration")
    require(cfg.DIST_TIMEOUT_SECONDS > 0, "DIST_TIMEOUT_SECONDS", cfg.DIST_TIMEOUT_SECONDS,
            "must be > 0 seconds (how long a collective waits for a silent process)")
    require(bool(cfg.OUTPUT_DIR), "OUTPUT_DIR", cfg.OUTPUT_DIR, "must name a folder")
    require(cfg.TRAIN.ENABLE or cfg.TEST.ENABLE, "TRAIN.ENABLE/TEST.ENABLE", (cfg.TRAIN.ENABLE, cfg.TEST.ENABLE),
            "nothing to do: enable training, testing or both")


def _check_train_test(cfg: CfgNode) -> None:
    t, e, d = cfg.TRAIN, cfg.TEST, cfg.DATA
    world = world_size(cfg)
    require(t.BATCH_SIZE > 0, "TRAIN.BATCH_SIZE", t.BATCH_SIZE, "must be > 0 (the global batch over all processes)")
    require(t.BATCH_SIZE % world == 0, "TRAIN.BATCH_SIZE", t.BATCH_SIZE,
            f"the global batch must divide by the number of processes ({world})")
    require(t.GRAD_ACCUM_STEPS >= 1, "TRAIN.GRAD_ACCUM_STEPS", t.GRAD_ACCUM_STEPS, "must be >= 1")
    require(t.EVAL_PERIOD >= 1, "TRAIN.EVAL_PERIOD", t.EVAL_PERIOD, "must be >= 1 epoch")
    require(t.CHECKPOINT_PERIOD >= 1, "TRAIN.CHECKPOINT_PERIOD", t.CHECKPOINT_PERIOD, "must be >= 1 epoch")
    require(t.CHECKPOINT_PERIOD_ITERS >= 0, "TRAIN.CHECKPOINT_PERIOD_ITERS", t.CHECKPOINT_PERIOD_ITERS,
            "must be >= 0 updates (0 = epoch-end checkpoints only)")
    require(t.CHECKPOINT_KEEP >= 1, "TRAIN.CHECKPOINT_KEEP", t.CHECKPOINT_KEEP, "must keep >= 1 checkpoint")
    require(t.MIXED_PRECISION_DTYPE in AMP_DTYPES, "TRAIN.MIXED_PRECISION_DTYPE", t.MIXED_PRECISION_DTYPE,
            f"expected one of {AMP_DTYPES}")
    require(t.KILL_LOSS_EXPLOSION_FACTOR >= 0, "TRAIN.KILL_LOSS_EXPLOSION_FACTOR", t.KILL_LOSS_EXPLOSION_FACTOR,
            "must be >= 0 (0 disables)")
    require(e.BATCH_SIZE > 0, "TEST.BATCH_SIZE", e.BATCH_SIZE, "must be > 0 (per process)")
    require(e.NUM_ENSEMBLE_VIEWS >= 1, "TEST.NUM_ENSEMBLE_VIEWS", e.NUM_ENSEMBLE_VIEWS, "must be >= 1 temporal clip")
    require(e.NUM_SPATIAL_CROPS in (1, 3), "TEST.NUM_SPATIAL_CROPS", e.NUM_SPATIAL_CROPS,
            "must be 1 (centre) or 3 (left/centre/right)")
    if t.ENABLE:
        require(d.TRAIN_CROP_SIZE == d.TEST_CROP_SIZE, "DATA.TEST_CROP_SIZE", d.TEST_CROP_SIZE,
                f"validation during training runs the trained model, so it must equal DATA.TRAIN_CROP_SIZE="
                f"{d.TRAIN_CROP_SIZE} (Hiera's position embeddings are sized to the input)")
    require(0 <= d.VAL_FRACTION < 1 and 0 <= d.TEST_FRACTION < 1 and d.VAL_FRACTION + d.TEST_FRACTION < 1,
            "DATA.VAL_FRACTION/TEST_FRACTION", (d.VAL_FRACTION, d.TEST_FRACTION),
            "must be in [0, 1) and leave some videos for training")


def _check_model(cfg: CfgNode) -> None:
    m = cfg.MODEL
    require(m.NUM_CLASSES >= 0, "MODEL.NUM_CLASSES", m.NUM_CLASSES, "must be >= 1 (0: from the data)")
    require(m.LOSS_FUNC in LOSSES, "MODEL.LOSS_FUNC", m.LOSS_FUNC, f"expected one of {LOSSES}")
    require(0 <= m.DROPOUT_RATE < 1, "MODEL.DROPOUT_RATE", m.DROPOUT_RATE, "must be in [0, 1)")
    require(0 <= cfg.HIERA.DROP_PATH_RATE < 1, "HIERA.DROP_PATH_RATE", cfg.HIERA.DROP_PATH_RATE, "must be in [0, 1)")


def _check_solver(s: CfgNode) -> None:
    require(s.OPTIMIZING_METHOD in OPTIMIZERS, "SOLVER.OPTIMIZING_METHOD", s.OPTIMIZING_METHOD,
            f"expected one of {OPTIMIZERS}")
    require(s.LR_POLICY in LR_POLICIES, "SOLVER.LR_POLICY", s.LR_POLICY, f"expected one of {LR_POLICIES}")
    require(s.BASE_LR > 0, "SOLVER.BASE_LR", s.BASE_LR, "must be > 0")
    require(s.BASE_BATCH_SIZE > 0, "SOLVER.BASE_BATCH_SIZE", s.BASE_BATCH_SIZE, "must be > 0")
    require(s.COSINE_END_LR >= 0, "SOLVER.COSINE_END_LR", s.COSINE_END_LR, "must be >= 0")
    require(s.MAX_EPOCH >= 1, "SOLVER.MAX_EPOCH", s.MAX_EPOCH, "must be >= 1")
    require(0 <= s.WARMUP_EPOCHS < s.MAX_EPOCH, "SOLVER.WARMUP_EPOCHS", s.WARMUP_EPOCHS,
            f"must be in [0, SOLVER.MAX_EPOCH={s.MAX_EPOCH})")
    require(s.WEIGHT_DECAY >= 0, "SOLVER.WEIGHT_DECAY", s.WEIGHT_DECAY, "must be >= 0")
    require(0 < s.LAYER_DECAY <= 1, "SOLVER.LAYER_DECAY", s.LAYER_DECAY, "must be in (0, 1] (1 disables)")
    require(s.CLIP_GRAD_L2NORM >= 0, "SOLVER.CLIP_GRAD_L2NORM", s.CLIP_GRAD_L2NORM, "must be >= 0 (0 disables)")
    require(len(s.BETAS) == 2 and all(0 <= b < 1 for b in s.BETAS), "SOLVER.BETAS", s.BETAS,
            "must be two numbers in [0, 1)")


def _check_mixup(x: CfgNode) -> None:
    for key in ("ALPHA", "CUTMIX_ALPHA"):
        require(x[key] >= 0, f"MIXUP.{key}", x[key], "must be >= 0 (0 disables)")
    for key in ("PROB", "SWITCH_PROB"):
        require(0 <= x[key] <= 1, f"MIXUP.{key}", x[key], "must be a probability in [0, 1]")
    require(0 <= x.LABEL_SMOOTH_VALUE < 1, "MIXUP.LABEL_SMOOTH_VALUE", x.LABEL_SMOOTH_VALUE, "must be in [0, 1)")
