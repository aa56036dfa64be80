"""Training / testing engine: tasks, train loop + hooks, checkpoints, distributed, and
``load_config`` (a config checked for its task, ready to run)."""
from .build import build_model, model_kwargs
from .configure import load_config, validate_cfg
from .tasks import TASKS, Task, register_task, task_class

__all__ = ["TASKS", "Task", "build_model", "load_config", "model_kwargs", "register_task", "task_class",
           "validate_cfg"]
