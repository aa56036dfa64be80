"""The package's imports run one way: no module imports, directly or through others, a module
that imports it back. Imports inside functions count (a lazy import is still a dependency).
"""
import ast
import os
from typing import Dict, List, Set

import hiera_video

PACKAGE_DIR = os.path.dirname(hiera_video.__file__)


def package_modules() -> Dict[str, str]:
    """Dotted module name -> file, for every .py under the package (a package is its __init__)."""
    root = os.path.dirname(PACKAGE_DIR)
    mods = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                mods[name.removesuffix(".__init__")] = path
    return mods


def _resolve(name: str, mods: Dict[str, str]) -> str:
    """The innermost package module ``name`` refers to ('' when outside the package)."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name


def import_graph(mods: Dict[str, str]) -> Dict[str, Set[str]]:
    """Module -> the package modules it imports. A package importing its own submodules (its
    __init__ gathering the public names) is not an edge."""
    graph = {}
    for mod, path in mods.items():
        is_pkg = path.endswith("__init__.py")
        here = mod if is_pkg else mod.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for n in names:
                target = _resolve(n, mods)
                if target and target != mod and not (is_pkg and target.startswith(mod + ".")):
                    targets.add(target)
        graph[mod] = targets
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_package_has_no_import_cycle():
    mods = package_modules()
    assert len(mods) > 50 and "hiera_video.models.hiera" in mods
    found = cycles(import_graph(mods))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)
