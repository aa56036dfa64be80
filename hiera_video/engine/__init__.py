"""Training / testing engine: tasks, train loop + hooks, evaluation, checkpoints, distributed."""
from .build import build_model, model_kwargs
from .tasks import TASKS, Task, register_task

__all__ = ["TASKS", "Task", "build_model", "model_kwargs", "register_task"]
