"""Checks of values that cannot work, each failing with the key, the value and the reason."""
import os

from fvcore.common.config import CfgNode

from .loading import ConfigError

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


def _require(ok: bool, key: str, value, reason: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: {reason}")


def validate_cfg(cfg: CfgNode) -> None:
    """Raise ``ConfigError`` on the first impossible value (engine sections; the data side
    checks its own keys where it reads them)."""
    from hiera_video.engine.tasks import TASKS

    _require(cfg.TASK in TASKS, "TASK", cfg.TASK, f"expected one of {sorted(TASKS)}")
    _require(cfg.NUM_GPUS >= 0, "NUM_GPUS", cfg.NUM_GPUS, "must be >= 0 (0 runs on CPU)")
    _require(cfg.NUM_CPU_PROCESSES >= 1, "NUM_CPU_PROCESSES", cfg.NUM_CPU_PROCESSES, "must be >= 1")
    _require(cfg.NUM_SHARDS >= 1, "NUM_SHARDS", cfg.NUM_SHARDS, "must be >= 1 (number of machines)")
    _require(0 <= cfg.SHARD_ID < cfg.NUM_SHARDS, "SHARD_ID", cfg.SHARD_ID, f"must be in [0, NUM_SHARDS={cfg.NUM_SHARDS})")
    _require(cfg.LOG_PERIOD >= 1, "LOG_PERIOD", cfg.LOG_PERIOD, "must be >= 1 iteration")
    _require(cfg.DIST_TIMEOUT_SECONDS > 0, "DIST_TIMEOUT_SECONDS", cfg.DIST_TIMEOUT_SECONDS,
             "must be > 0 seconds (how long a collective waits for a silent process)")
    _require(bool(cfg.OUTPUT_DIR), "OUTPUT_DIR", cfg.OUTPUT_DIR, "must name a folder")
    _require(cfg.TRAIN.ENABLE or cfg.TEST.ENABLE, "TRAIN.ENABLE/TEST.ENABLE", (cfg.TRAIN.ENABLE, cfg.TEST.ENABLE),
             "nothing to do: enable training, testing or both")

    t = cfg.TRAIN
    world = world_size(cfg)
    _require(t.BATCH_SIZE > 0, "TRAIN.BATCH_SIZE", t.BATCH_SIZE, "must be > 0 (the global batch over all processes)")
    _require(t.BATCH_SIZE % world == 0, "TRAIN.BATCH_SIZE", t.BATCH_SIZE,
             f"the global batch must divide by the number of processes ({world})")
    _require(t.GRAD_ACCUM_STEPS >= 1, "TRAIN.GRAD_ACCUM_STEPS", t.GRAD_ACCUM_STEPS, "must be >= 1")
    _require(t.EVAL_PERIOD >= 1, "TRAIN.EVAL_PERIOD", t.EVAL_PERIOD, "must be >= 1 epoch")
    _require(t.CHECKPOINT_PERIOD >= 1, "TRAIN.CHECKPOINT_PERIOD", t.CHECKPOINT_PERIOD, "must be >= 1 epoch")
    _require(t.CHECKPOINT_PERIOD_ITERS >= 0, "TRAIN.CHECKPOINT_PERIOD_ITERS", t.CHECKPOINT_PERIOD_ITERS,
             "must be >= 0 updates (0 = epoch-end checkpoints only)")
    _require(t.CHECKPOINT_KEEP >= 1, "TRAIN.CHECKPOINT_KEEP", t.CHECKPOINT_KEEP, "must keep >= 1 checkpoint")
    _require(t.MIXED_PRECISION_DTYPE in AMP_DTYPES, "TRAIN.MIXED_PRECISION_DTYPE", t.MIXED_PRECISION_DTYPE,
             f"expected one of {AMP_DTYPES}")
    _require(t.KILL_LOSS_EXPLOSION_FACTOR >= 0, "TRAIN.KILL_LOSS_EXPLOSION_FACTOR", t.KILL_LOSS_EXPLOSION_FACTOR,
             "must be >= 0 (0 disables)")

    e = cfg.TEST
    _require(e.BATCH_SIZE > 0, "TEST.BATCH_SIZE", e.BATCH_SIZE, "must be > 0 (per process)")
    _require(e.NUM_ENSEMBLE_VIEWS >= 1, "TEST.NUM_ENSEMBLE_VIEWS", e.NUM_ENSEMBLE_VIEWS, "must be >= 1 temporal clip")
    _require(e.NUM_SPATIAL_CROPS in (1, 3), "TEST.NUM_SPATIAL_CROPS", e.NUM_SPATIAL_CROPS,
             "must be 1 (centre) or 3 (left/centre/right)")
    if t.ENABLE:
        _require(cfg.DATA.TRAIN_CROP_SIZE == cfg.DATA.TEST_CROP_SIZE, "DATA.TEST_CROP_SIZE", cfg.DATA.TEST_CROP_SIZE,
                 f"validation during training runs the trained model, so it must equal DATA.TRAIN_CROP_SIZE="
                 f"{cfg.DATA.TRAIN_CROP_SIZE} (Hiera's position embeddings are sized to the input)")

    d = cfg.DATA
    _require(0 <= d.VAL_FRACTION < 1 and 0 <= d.TEST_FRACTION < 1 and d.VAL_FRACTION + d.TEST_FRACTION < 1,
             "DATA.VAL_FRACTION/TEST_FRACTION", (d.VAL_FRACTION, d.TEST_FRACTION),
             "must be in [0, 1) and leave some videos for training")
    m = cfg.MODEL
    if m.NUM_CLASSES == 0:  # before the task and model are built: the dataset counts its classes
        from hiera_video.data.folders import num_classes_from_data

        m.NUM_CLASSES = num_classes_from_data(cfg)
    _require(m.NUM_CLASSES >= 1, "MODEL.NUM_CLASSES", m.NUM_CLASSES, "must be >= 1 (0: from the data)")
    _require(m.LOSS_FUNC in LOSSES, "MODEL.LOSS_FUNC", m.LOSS_FUNC, f"expected one of {LOSSES}")
    _require(0 <= m.DROPOUT_RATE < 1, "MODEL.DROPOUT_RATE", m.DROPOUT_RATE, "must be in [0, 1)")
    _require(0 <= cfg.HIERA.DROP_PATH_RATE < 1, "HIERA.DROP_PATH_RATE", cfg.HIERA.DROP_PATH_RATE, "must be in [0, 1)")

    s = cfg.SOLVER
    _require(s.OPTIMIZING_METHOD in OPTIMIZERS, "SOLVER.OPTIMIZING_METHOD", s.OPTIMIZING_METHOD,
             f"expected one of {OPTIMIZERS}")
    _require(s.LR_POLICY in LR_POLICIES, "SOLVER.LR_POLICY", s.LR_POLICY, f"expected one of {LR_POLICIES}")
    _require(s.BASE_LR > 0, "SOLVER.BASE_LR", s.BASE_LR, "must be > 0")
    _require(s.BASE_BATCH_SIZE > 0, "SOLVER.BASE_BATCH_SIZE", s.BASE_BATCH_SIZE, "must be > 0")
    _require(s.COSINE_END_LR >= 0, "SOLVER.COSINE_END_LR", s.COSINE_END_LR, "must be >= 0")
    _require(s.MAX_EPOCH >= 1, "SOLVER.MAX_EPOCH", s.MAX_EPOCH, "must be >= 1")
    _require(0 <= s.WARMUP_EPOCHS < s.MAX_EPOCH, "SOLVER.WARMUP_EPOCHS", s.WARMUP_EPOCHS,
             f"must be in [0, SOLVER.MAX_EPOCH={s.MAX_EPOCH})")
    _require(s.WEIGHT_DECAY >= 0, "SOLVER.WEIGHT_DECAY", s.WEIGHT_DECAY, "must be >= 0")
    _require(0 < s.LAYER_DECAY <= 1, "SOLVER.LAYER_DECAY", s.LAYER_DECAY, "must be in (0, 1] (1 disables)")
    _require(s.CLIP_GRAD_L2NORM >= 0, "SOLVER.CLIP_GRAD_L2NORM", s.CLIP_GRAD_L2NORM, "must be >= 0 (0 disables)")
    _require(len(s.BETAS) == 2 and all(0 <= b < 1 for b in s.BETAS), "SOLVER.BETAS", s.BETAS,
             "must be two numbers in [0, 1)")

    x = cfg.MIXUP
    for key in ("ALPHA", "CUTMIX_ALPHA"):
        _require(x[key] >= 0, f"MIXUP.{key}", x[key], "must be >= 0 (0 disables)")
    for key in ("PROB", "SWITCH_PROB"):
        _require(0 <= x[key] <= 1, f"MIXUP.{key}", x[key], "must be a probability in [0, 1]")
    _require(0 <= x.LABEL_SMOOTH_VALUE < 1, "MIXUP.LABEL_SMOOTH_VALUE", x.LABEL_SMOOTH_VALUE, "must be in [0, 1)")
    if x.ENABLE:
        _require(x.ALPHA > 0 or x.CUTMIX_ALPHA > 0, "MIXUP.ALPHA/CUTMIX_ALPHA", (x.ALPHA, x.CUTMIX_ALPHA),
                 "MIXUP.ENABLE needs mixup or cutmix alpha > 0")
        _require(m.LOSS_FUNC != "cross_entropy", "MODEL.LOSS_FUNC", m.LOSS_FUNC,
                 "mixup/cutmix give soft targets: use soft_cross_entropy or bce")

    if cfg.TASK == "mae":
        k = cfg.MASK
        _require(0 < k.MASK_RATIO < 1, "MASK.MASK_RATIO", k.MASK_RATIO,
                 "must be in (0, 1): the fraction of mask units deleted (0.9 for video, 0.6 for images)")
        _require(k.TARGET in ("pixel", "hog"), "MASK.TARGET", k.TARGET, "expected pixel or hog")
        _require(not x.ENABLE, "MIXUP.ENABLE", x.ENABLE, "mixup/cutmix needs labels; MAE pretraining has none")
        for key in ("TRAIN.DATASET", "TEST.DATASET"):
            section, name = key.split(".")
            _require(cfg[section][name].lower() != "ava", key, cfg[section][name],
                     "TASK mae reads video clips (kinetics or ssv2), not AVA keyframes")
        for key in ("DECODER_EMBED_DIM", "DECODER_DEPTH", "DECODER_NUM_HEADS"):
            _require(cfg.HIERA[key] >= 1, f"HIERA.{key}", cfg.HIERA[key], "must be >= 1")
        _require(cfg.HIERA.DECODER_EMBED_DIM % cfg.HIERA.DECODER_NUM_HEADS == 0, "HIERA.DECODER_NUM_HEADS",
                 cfg.HIERA.DECODER_NUM_HEADS, f"must divide HIERA.DECODER_EMBED_DIM={cfg.HIERA.DECODER_EMBED_DIM}")

    if cfg.TASK == "detection":
        _require(m.LOSS_FUNC in ("bce", "cross_entropy"), "MODEL.LOSS_FUNC", m.LOSS_FUNC,
                 "TASK detection expects bce (multi-label sigmoid) or cross_entropy (softmax)")
        for key in ("TRAIN.DATASET", "TEST.DATASET"):
            section, name = key.split(".")
            _require(cfg[section][name].lower() == "ava", key, cfg[section][name], "TASK detection reads AVA data: set ava")
        _require(not x.ENABLE, "MIXUP.ENABLE", x.ENABLE, "mixup/cutmix is not defined for person boxes")
        a = cfg.AVA
        _require(0 <= a.DETECTION_SCORE_THRESH <= 1, "AVA.DETECTION_SCORE_THRESH", a.DETECTION_SCORE_THRESH,
                 "must be a score in [0, 1]")
        _require(len(a.KEYFRAME_RANGE) == 2 and a.KEYFRAME_RANGE[0] <= a.KEYFRAME_RANGE[1], "AVA.KEYFRAME_RANGE",
                 a.KEYFRAME_RANGE, "must be [first, last] seconds (902, 1798 for AVA)")
        _require(a.FPS > 0, "AVA.FPS", a.FPS, "must be > 0 (frames extracted per second)")
        _require(cfg.DETECTION.ROI_XFORM_RESOLUTION >= 1, "DETECTION.ROI_XFORM_RESOLUTION",
                 cfg.DETECTION.ROI_XFORM_RESOLUTION, "must be >= 1")
        _require(len(cfg.DATA.TRAIN_JITTER_SCALES) == 2 and cfg.DATA.TRAIN_JITTER_SCALES[0] >= cfg.DATA.TRAIN_CROP_SIZE,
                 "DATA.TRAIN_JITTER_SCALES", cfg.DATA.TRAIN_JITTER_SCALES,
                 f"must be [min, max] short sides >= DATA.TRAIN_CROP_SIZE={cfg.DATA.TRAIN_CROP_SIZE}")
