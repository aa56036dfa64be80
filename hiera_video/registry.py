"""The name tables (fvcore ``Registry``, as PySlowFast and detectron2 use them), at the bottom
of the import graph: a module registers what it defines, a builder looks the name up.

* ``TASKS``: what a ``TASK`` value means to the engine (``classification``, ``mae``,
  ``detection``): ``engine.tasks.base.register_task`` on a ``Task`` subclass registers it under
  its ``name`` attribute (fvcore's own ``@TASKS.register()`` would key it by the class name).
* ``DATASETS``: what ``TRAIN.DATASET`` / ``TEST.DATASET`` name (``kinetics``, ``ssv2``, ...).
* ``MODELS``: the model builders behind ``create_model`` names.
"""
from fvcore.common.registry import Registry

TASKS = Registry("TASKS")
DATASETS = Registry("DATASETS")
MODELS = Registry("MODELS")
