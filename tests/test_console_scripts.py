"""Every console script named in setup.py points at an importable ``main``."""
import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def console_scripts():
    """``[(script, module, function)]`` from setup.py's ``console_scripts``."""
    text = open(os.path.join(ROOT, "setup.py")).read()
    return re.findall(r'"([\w-]+) = ([\w.]+):(\w+)"', text)


def test_setup_names_console_scripts():
    assert {"hiera-run", "hiera-benchmark", "hiera-export"} <= {name for name, _, _ in console_scripts()}


@pytest.mark.parametrize("script,module,function", console_scripts(), ids=[s for s, _, _ in console_scripts()])
def test_console_script_resolves_to_main(script, module, function):
    assert function == "main" and callable(getattr(importlib.import_module(module), function))
