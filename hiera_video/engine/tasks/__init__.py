"""The tasks (TASK values); importing a task's module registers it in ``hiera_video.registry.TASKS``."""
from hiera_video.registry import TASKS

from .base import Task, register_task, task_class
from .classification import ClassificationTask
from .detection import DetectionTask
from .mae import MAETask

__all__ = ["TASKS", "ClassificationTask", "DetectionTask", "MAETask", "Task", "register_task",
           "task_class"]
