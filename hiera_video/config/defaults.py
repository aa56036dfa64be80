"""Default configuration: PySlowFast's key names wherever one exists, HIERA.* for the model.

Every key a config file or command line may set is declared here; an unknown key fails
at once (see ``config.loading``).
"""
from fvcore.common.config import CfgNode

_C = CfgNode()

# What run_net does: "classification" (finetune / test), "mae" (pretraining), "detection" (AVA).
_C.TASK = "classification"
_C.NUM_GPUS = 1  # 0 = CPU
_C.NUM_SHARDS = 1  # machines
_C.SHARD_ID = 0
_C.DIST_BACKEND = "nccl"  # gloo is used automatically on CPU
# Seconds a collective waits for a silent process before the job stops naming it (a killed
# process is noticed at once; this bounds a hung or unreachable one).
_C.DIST_TIMEOUT_SECONDS = 1800
# Processes per machine when NUM_GPUS is 0 (gloo on CPU): multi-process runs without a GPU.
_C.NUM_CPU_PROCESSES = 1
_C.OUTPUT_DIR = "./runs/default"
_C.RNG_SEED = 1
_C.LOG_PERIOD = 10

# ---------------------------------------------------------------------------- train
_C.TRAIN = CfgNode()
_C.TRAIN.ENABLE = True
_C.TRAIN.DATASET = "kinetics"  # kinetics | ssv2 | ava | folder | ucf101 | hmdb51
_C.TRAIN.BATCH_SIZE = 64  # global, over all processes
_C.TRAIN.EVAL_PERIOD = 10  # epochs between single-view validations
_C.TRAIN.CHECKPOINT_PERIOD = 10
_C.TRAIN.CHECKPOINT_PERIOD_ITERS = 0  # also save every N updates inside an epoch (0 = off); resumes mid-epoch
_C.TRAIN.CHECKPOINT_KEEP = 3  # last K periodic checkpoints kept
_C.TRAIN.AUTO_RESUME = True
_C.TRAIN.CHECKPOINT_FILE_PATH = ""  # initialisation (official or project checkpoint)
_C.TRAIN.MIXED_PRECISION = False
_C.TRAIN.MIXED_PRECISION_DTYPE = "bfloat16"  # bfloat16 | float16 (with a grad scaler)
_C.TRAIN.GRAD_ACCUM_STEPS = 1
_C.TRAIN.KILL_LOSS_EXPLOSION_FACTOR = 0.0  # 0 disables; else stop if loss > factor x running mean
_C.TRAIN.COMPILE = False

# ---------------------------------------------------------------------------- test
_C.TEST = CfgNode()
_C.TEST.ENABLE = True
_C.TEST.DATASET = "kinetics"
_C.TEST.BATCH_SIZE = 8
_C.TEST.CHECKPOINT_FILE_PATH = ""
_C.TEST.NUM_ENSEMBLE_VIEWS = 5  # temporal clips
_C.TEST.NUM_SPATIAL_CROPS = 3  # 1 or 3
_C.TEST.SAVE_RESULTS_PATH = "test_results.json"  # relative paths are under OUTPUT_DIR
_C.TEST.SAVE_PREDICTIONS_PATH = "test_predictions.jsonl"  # one line per video: path, label, top-5

# ---------------------------------------------------------------------------- data
_C.DATA = CfgNode()
_C.DATA.PATH_TO_DATA_DIR = ""  # holds train.csv / val.csv / test.csv
_C.DATA.PATH_PREFIX = ""  # prepended to each video path of the lists
_C.DATA.PATH_LABEL_SEPARATOR = " "
_C.DATA.CLASS_NAMES_FILE = ""  # optional: one name per line, or {name: index} json
_C.DATA.NUM_FRAMES = 16
_C.DATA.SAMPLING_RATE = 4
_C.DATA.TARGET_FPS = 30
_C.DATA.TRAIN_JITTER_SCALES = [256, 320]
_C.DATA.TRAIN_JITTER_SCALES_RELATIVE = [0.08, 1.0]
_C.DATA.TRAIN_JITTER_ASPECT_RELATIVE = [0.75, 1.3333]
# "jitter": short side in TRAIN_JITTER_SCALES then a random crop (PySlowFast);
# "random_resized": random resized crop with the *_RELATIVE scale / aspect (implied by AUG.ENABLE;
# MAE pretraining: random_resized with TRAIN_JITTER_SCALES_RELATIVE [0.5, 1.0], flip only).
_C.DATA.TRAIN_CROP_MODE = "jitter"
_C.DATA.TRAIN_CROP_SIZE = 224
_C.DATA.TEST_CROP_SIZE = 224
_C.DATA.TRAIN_CROP_NUM_TEMPORAL = 1  # repeated sampling: clips drawn per video per iteration
_C.DATA.INPUT_CHANNEL_NUM = [3]
_C.DATA.MEAN = [0.485, 0.456, 0.406]
_C.DATA.STD = [0.229, 0.224, 0.225]
_C.DATA.RANDOM_FLIP = True
_C.DATA.DECODING_BACKEND = "pyav"  # pyav | decord
_C.DATA.MAX_BAD_FRACTION = 0.1  # stop when more of an epoch's training videos fail to decode
# Something-Something-v2 (TRAIN.DATASET ssv2): official json files in PATH_TO_DATA_DIR, videos
# <id>.<SSV2_VIDEO_EXT> under PATH_PREFIX (default: PATH_TO_DATA_DIR). SSv2 never uses a plain
# flip (it swaps left/right classes); SSV2_LABEL_AWARE_FLIP flips and swaps those labels.
_C.DATA.SSV2_VIDEO_EXT = "webm"
_C.DATA.SSV2_LABEL_AWARE_FLIP = False
# Class folders (TRAIN.DATASET folder, hiera_video/data/folders.py): per-class held-out fractions
# when PATH_TO_DATA_DIR has no val/ or test/ folder (seeded by RNG_SEED).
_C.DATA.VAL_FRACTION = 0.1
_C.DATA.TEST_FRACTION = 0.2
# UCF101 / HMDB51 (TRAIN.DATASET ucf101 | hmdb51): official split 1, 2 or 3.
_C.DATA.SPLIT = 1
# Generated dataset (configs/Synthetic): written on first run when PATH_TO_DATA_DIR lacks it.
_C.DATA.SYNTHETIC = CfgNode()
_C.DATA.SYNTHETIC.ENABLE = False
_C.DATA.SYNTHETIC.NUM_TRAIN = 600
_C.DATA.SYNTHETIC.NUM_VAL = 120
_C.DATA.SYNTHETIC.NUM_TEST = 120
_C.DATA.SYNTHETIC.NUM_FRAMES = 32
_C.DATA.SYNTHETIC.SIZE = 64
_C.DATA.SYNTHETIC.SEED = 0

# ---------------------------------------------------------------------------- model
_C.MODEL = CfgNode()
_C.MODEL.MODEL_NAME = "hiera_base_16x224"  # any hiera_video.list_models() name
_C.MODEL.NUM_CLASSES = 400  # 0: from the data (folder, ucf101, hmdb51, or a classnames.txt)
_C.MODEL.DROPOUT_RATE = 0.3  # head dropout
_C.MODEL.LOSS_FUNC = "soft_cross_entropy"  # soft_cross_entropy | cross_entropy | bce

# Overrides of the named architecture; empty / negative = keep the named config's value.
_C.HIERA = CfgNode()
_C.HIERA.EMBED_DIM = -1
_C.HIERA.NUM_HEADS = -1
_C.HIERA.STAGES = []
_C.HIERA.Q_POOL = -1
_C.HIERA.Q_STRIDE = []
_C.HIERA.MASK_UNIT_SIZE = []
_C.HIERA.MASK_UNIT_ATTN = []
_C.HIERA.PATCH_KERNEL = []
_C.HIERA.PATCH_STRIDE = []
_C.HIERA.PATCH_PADDING = []
_C.HIERA.MLP_RATIO = -1.0
_C.HIERA.DROP_PATH_RATE = 0.1
_C.HIERA.ACT_CHECKPOINT = False
# MAE decoder (TASK mae)
_C.HIERA.DECODER_EMBED_DIM = 512
_C.HIERA.DECODER_DEPTH = 8
_C.HIERA.DECODER_NUM_HEADS = 8

# ---------------------------------------------------------------------------- MAE masking
_C.MASK = CfgNode()
_C.MASK.MASK_RATIO = 0.9
_C.MASK.TARGET = "pixel"  # pixel | hog
_C.MASK.NORM_PIX_LOSS = True

# ---------------------------------------------------------------------------- solver
_C.SOLVER = CfgNode()
_C.SOLVER.OPTIMIZING_METHOD = "adamw"  # adamw | sgd
_C.SOLVER.BASE_LR = 8e-4  # at SOLVER.BASE_BATCH_SIZE; scaled linearly with the global batch
_C.SOLVER.BASE_BATCH_SIZE = 256
_C.SOLVER.LR_POLICY = "cosine"
_C.SOLVER.COSINE_END_LR = 1e-6
_C.SOLVER.WARMUP_EPOCHS = 10.0
_C.SOLVER.WARMUP_START_LR = 1e-8
_C.SOLVER.MAX_EPOCH = 150
_C.SOLVER.BETAS = [0.9, 0.999]
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.NESTEROV = True
_C.SOLVER.WEIGHT_DECAY = 0.05
_C.SOLVER.ZERO_WD_1D_PARAM = True  # no decay on norms, biases, position embeddings
_C.SOLVER.LAYER_DECAY = 1.0
_C.SOLVER.CLIP_GRAD_L2NORM = 5.0  # 0 disables

# ---------------------------------------------------------------------------- mixup / cutmix
_C.MIXUP = CfgNode()
_C.MIXUP.ENABLE = False
_C.MIXUP.ALPHA = 0.8
_C.MIXUP.CUTMIX_ALPHA = 1.0
_C.MIXUP.PROB = 1.0
_C.MIXUP.SWITCH_PROB = 0.5
_C.MIXUP.LABEL_SMOOTH_VALUE = 0.1

# ---------------------------------------------------------------------------- augmentation
_C.AUG = CfgNode()
_C.AUG.ENABLE = False
_C.AUG.NUM_SAMPLE = 1  # repeated augmentation (PySlowFast's name)
_C.AUG.AA_TYPE = "rand-m7-n4-mstd0.5-inc1"
_C.AUG.INTERPOLATION = "bicubic"
_C.AUG.RE_PROB = 0.25
_C.AUG.RE_MODE = "pixel"
_C.AUG.RE_COUNT = 1

# ---------------------------------------------------------------------------- loader
_C.DATA_LOADER = CfgNode()
_C.DATA_LOADER.NUM_WORKERS = 8
_C.DATA_LOADER.PIN_MEMORY = True

_C.TENSORBOARD = CfgNode()
_C.TENSORBOARD.ENABLE = False
_C.TENSORBOARD.LOG_DIR = ""  # default OUTPUT_DIR/tensorboard

# ---------------------------------------------------------------------------- AVA (TASK detection)
# PySlowFast's AVA keys; relative folders are under DATA.PATH_TO_DATA_DIR, files under their folder.
_C.AVA = CfgNode()
_C.AVA.FRAME_DIR = "frames"  # <vid>/<vid>_%06d.jpg at 30 fps, image 000001 = second 900
_C.AVA.FRAME_LIST_DIR = "frame_lists"
_C.AVA.ANNOTATION_DIR = "annotations"
_C.AVA.TRAIN_LISTS = ["train.csv"]
_C.AVA.TEST_LISTS = ["val.csv"]
_C.AVA.TRAIN_GT_BOX_LISTS = ["ava_train_v2.2.csv"]
_C.AVA.TRAIN_PREDICT_BOX_LISTS = []  # detector boxes added to training (labels from the row or from GT overlap)
_C.AVA.TEST_PREDICT_BOX_LISTS = ["ava_val_predicted_boxes.csv"]
_C.AVA.DETECTION_SCORE_THRESH = 0.8
_C.AVA.LABEL_MAP_FILE = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
_C.AVA.EXCLUSION_FILE = "ava_val_excluded_timestamps_v2.2.csv"
_C.AVA.GROUNDTRUTH_FILE = "ava_val_v2.2.csv"
_C.AVA.KEYFRAME_RANGE = [902, 1798]  # seconds, inclusive
_C.AVA.FPS = 30
_C.AVA.FRAME_START_SEC = 900  # time of the first extracted frame
_C.AVA.DETECTIONS_FILE = "ava_detections.csv"  # test output, official format; under OUTPUT_DIR if relative
_C.AVA.RESULTS_FILE = "ava_results.json"  # mAP + per-class AP; under OUTPUT_DIR if relative
_C.AVA.SYNTHETIC_KEYFRAMES = 10  # generated data: keyframes per video

_C.DETECTION = CfgNode()
_C.DETECTION.ROI_XFORM_RESOLUTION = 7  # RoIAlign output before the spatial max-pool
_C.DETECTION.ALIGNED = True


def get_cfg() -> CfgNode:
    """A fresh copy of the defaults."""
    return _C.clone()
