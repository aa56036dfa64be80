"""The train loop's seams: the hook protocol in order, a hook's loss check stopping training,
and float16's gradient scaling as the ``AMPTrainer`` subclass."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from hiera_video.config import get_cfg
from hiera_video.engine.optim import build_scheduler
from hiera_video.engine.tasks import Task
from hiera_video.engine.trainer import AMPTrainer, HookBase, Trainer, TrainingStopped, trainer_class


class Regression(Task):
    """video [B, 4] -> target [B]: the smallest task the loop can run."""

    def training_step(self, model, batch, device):
        return F.mse_loss(model(batch["video"]).squeeze(1), batch["target"]), {}


def _trainer(cls=Trainer, *opts):
    cfg = get_cfg()
    cfg.merge_from_list(["SOLVER.MAX_EPOCH", "2", "SOLVER.WARMUP_EPOCHS", "0.0", "TRAIN.GRAD_ACCUM_STEPS", "2",
                         *opts])
    items = [{"video": torch.randn(4), "target": torch.randn(())} for _ in range(12)]
    loader = DataLoader(items, batch_size=3)  # 4 batches = 2 updates per epoch
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return cls(cfg, Regression(cfg), model, optimizer, build_scheduler(cfg, optimizer, 2), loader,
               torch.device("cpu"))


class Recorder(HookBase):
    def __init__(self):
        self.calls = []

    def before_train(self):
        self.calls.append("before_train")

    def before_epoch(self):
        self.calls.append("before_epoch")

    def before_step(self):
        self.calls.append("before_step")

    def check_loss(self, loss):
        self.calls.append("check_loss")

    def after_step(self):
        self.calls.append(f"after_step {self.trainer.step_stats['clips']}")

    def after_epoch(self):
        self.calls.append("after_epoch")

    def after_train(self):
        self.calls.append("after_train")


def test_hooks_are_called_in_protocol_order():
    trainer, hook = _trainer(), Recorder()
    trainer.register_hooks([hook, None])
    trainer.train()
    step = ["before_step", "check_loss", "check_loss", "after_step 6"]  # 2 micro-batches of 3 clips
    epoch = ["before_epoch", *step, *step, "after_epoch"]
    assert hook.calls == ["before_train", *epoch, *epoch, "after_train"]
    assert trainer.iteration == 4


def test_a_hook_stops_training_from_its_loss_check():
    class StopAtThird(HookBase):
        seen = 0

        def check_loss(self, loss):
            self.seen += 1
            if self.seen == 3:
                self.trainer.stop("third loss")

    trainer = _trainer()
    trainer.register_hooks([StopAtThird()])
    trainer.last_checkpoint = "ckpt.pyth"
    with pytest.raises(TrainingStopped, match=r"third loss at epoch 1, iteration 2 .*Last good checkpoint: ckpt.pyth"):
        trainer.train()
    assert trainer.iteration == 1  # the update with the stopping loss was not applied


def test_float16_uses_the_amp_trainer_and_checkpoints_its_scaler():
    assert trainer_class(get_cfg()) is Trainer
    cfg = get_cfg()
    cfg.merge_from_list(["TRAIN.MIXED_PRECISION", "True", "TRAIN.MIXED_PRECISION_DTYPE", "float16"])
    assert trainer_class(cfg) is AMPTrainer
    cfg.TRAIN.MIXED_PRECISION_DTYPE = "bfloat16"
    assert trainer_class(cfg) is Trainer
    trainer = _trainer(AMPTrainer, "SOLVER.CLIP_GRAD_L2NORM", "1.0")
    trainer.train()
    assert trainer.iteration == 4 and "grad_norm" in trainer.step_stats
    state = trainer.state_dict()["scaler_state"]
    again = _trainer(AMPTrainer)
    again.load_state_dict({"scaler_state": state})
    assert again.scaler.state_dict() == state and _trainer().state_dict() == {}
