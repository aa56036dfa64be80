"""Generated demo datasets, written before the engine starts: ``data/`` only reads.

* ``motion``: the main demo, six motion classes in Kinetics-format lists;
* ``transfer``: eight other motion classes in class folders (``benchmarks/transfer_synthetic.py``);
* ``ava``: person boxes and actions in the AVA v2.2 layout;
* ``mp4``: the H.264 writer they (and the tests) use; ``target_folder``: where a generator may write.

``prepare(cfg)`` is the step ``run_net`` hands the engine to run before anything reads data: with
DATA.SYNTHETIC.ENABLE, the config's dataset is generated into DATA.PATH_TO_DATA_DIR unless it is
already there.
"""
from typing import Optional


def prepare(cfg) -> Optional[dict]:
    """Generate DATA.SYNTHETIC.ENABLE's dataset into DATA.PATH_TO_DATA_DIR if it is missing (and
    check that the folder is the generator's own); returns its meta dict when it generated,
    else None. ``run_net`` runs it on the job's first process, then on the others (a no-op
    where they share its disk)."""
    if not cfg.DATA.SYNTHETIC.ENABLE:
        return None
    if "ava" in (cfg.TRAIN.DATASET.lower(), cfg.TEST.DATASET.lower()):
        from .ava import ensure_ava_synthetic_dataset

        return ensure_ava_synthetic_dataset(cfg)
    from .motion import ensure_synthetic_dataset

    return ensure_synthetic_dataset(cfg)
