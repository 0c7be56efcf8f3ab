"""The package's shape, checked: layers import downward only, no import cycle (type-only imports
counted), rooms of at most 15 modules, the run's control free of every other room of the engine, no
private names crossing modules, small modules, and no attribute of ``tunewidgets`` hiding a subpackage."""

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import tunewidgets

PACKAGE = Path(tunewidgets.__file__).parent
MAX_LINES = 400
MAX_MODULES_PER_FOLDER = 15
# What each layer may import from the package (besides itself): value objects at the bottom, then the
# engine, the sweeps over it, the other libraries' trainer callbacks over the engine alone, Bokeh figures
# on their own, the widgets over everything.
LAYERS = {"base": set(), "engine": {"base"}, "sweeps": {"base", "engine"}, "integrations": {"base", "engine"},
          "plotting": {"base"},
          "ui": {"base", "engine", "sweeps", "plotting"}, "root": {"base", "engine", "sweeps", "plotting", "ui"}}


def module_name(path: Path) -> str:
    parts = ["tunewidgets", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    return parts[1] if parts[1] in LAYERS else "base"


def runtime_imports(path: Path, type_only: bool = False):
    """(imported module, imported names, line) for every import outside ``if TYPE_CHECKING:`` (and
    inside it too with ``type_only``)."""
    tree = ast.parse(path.read_text())
    skipped = set() if type_only else {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body for n in ast.walk(child)}
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [a.name for a in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            yield (base, names, node.lineno) if not submodules else (submodules[0], [], node.lineno)


def import_graph(type_only: bool = False) -> dict[str, set[str]]:
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, _, _ in runtime_imports(path, type_only):
            if target in MODULES and target != module:
                graph[module].add(target)
    return graph


def test_layers_import_downward_only():
    wrong = []
    for module, targets in import_graph().items():
        allowed = LAYERS[layer(module)] | {layer(module)}
        wrong += [f"{module} -> {t}" for t in targets if layer(t) not in allowed]
    assert not wrong, wrong


def test_no_import_cycle_type_only_imports_counted():
    """A reader follows a type-only import as far as a runtime one: the loops, hooks and ``Report``
    speak to ``RunLike``, not to the ``Run`` that imports them."""
    graph, index, low, stack, on_stack, cycles = import_graph(type_only=True), {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_folder_holds_more_than_15_modules():
    folders = {}
    for path in MODULES.values():
        folders.setdefault(path.parent.relative_to(PACKAGE.parent).as_posix(), []).append(path.name)
    crowded = {folder: len(names) for folder, names in folders.items() if len(names) > MAX_MODULES_PER_FOLDER}
    assert not crowded, crowded


def test_a_runs_control_imports_no_other_room_of_the_engine():
    """What any run offers (pause, stop, events, hooks, knobs, threads, the trainer contract) stands on
    its own: the built-in trainer, your own loop and the records build on it, never the other way."""
    graph = import_graph(type_only=True)
    control = "tunewidgets.engine.control"
    wrong = [f"{m} -> {t}" for m in graph if m.startswith(control)
             for t in graph[m] if t.startswith("tunewidgets.engine") and not t.startswith(control)]
    assert not wrong, wrong


def test_only_the_run_module_picks_a_trainer():
    """``run.trainer_of`` is the one place that chooses between the built-in trainer and a fit's."""
    importers = sorted(m for m, targets in import_graph(type_only=True).items()
                       if "tunewidgets.engine.builtin.trainer" in targets)
    assert importers == ["tunewidgets.engine.run"], importers


def test_no_module_uses_another_modules_private_names():
    found = []
    for module, path in MODULES.items():
        for target, names, line in runtime_imports(path):
            if target.startswith("tunewidgets"):
                found += [f"{module}:{line} imports {target}.{n}" for n in names if n.startswith("_")]
        for node in ast.walk(ast.parse(path.read_text())):  # obj._x on anything but self, cls, super()
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")) and \
                        not (isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super"):
                    found.append(f"{module}:{node.lineno} reads {ast.unparse(node)}")
    assert not found, found


def test_modules_stay_small():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_no_attribute_of_the_package_hides_a_subpackage():
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        module = importlib.import_module(f"tunewidgets.{info.name}")
        assert getattr(tunewidgets, info.name, module) is module, f"tw.{info.name} hides the module"
    assert importlib.import_module("tunewidgets.sweeps").Sweep is tunewidgets.Sweep
    assert callable(tunewidgets.sweep) and tunewidgets.sweep.__module__ == "tunewidgets.sweeps.launch"


@pytest.mark.slow
def test_engine_and_sweeps_import_no_widget_plotting_or_cluster_library():
    """In a fresh interpreter: headless use loads neither widgets nor Bokeh nor Dask; Bokeh figures
    load no widgets."""
    code = """
import sys
import tunewidgets, tunewidgets.engine, tunewidgets.engine.builtin.lr_finder, tunewidgets.sweeps, tunewidgets.space
print(sorted(m for m in ('ipywidgets', 'bokeh', 'jupyter_bokeh', 'dask', 'distributed', 'tunewidgets.ui',
                         'tunewidgets.plotting') if m in sys.modules))
import tunewidgets.plotting
print(sorted(m for m in ('ipywidgets', 'jupyter_bokeh', 'tunewidgets.ui') if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "[]"], out.stdout


MAX_PARAMETERS = 8
# Entry points a user calls by keyword, and figures with their plotting options: their many parameters
# are the public API. Inside the package, what travels together travels as one object (a plan).
MANY_PARAMETERS_ALLOWED = {
    "tunewidgets.engine.builtin.data": {"Data.from_arrays"},  # public: tw.Data.from_arrays
    "tunewidgets.engine.run": {"Run.__init__"},  # public: tw.Run(...)
    "tunewidgets.engine.training": {"train"},  # public: tw.train
    "tunewidgets.sweeps.launch": {"sweep"},  # public: tw.sweep
    "tunewidgets.sweeps.sklearn": {"sweep_estimator"},  # public: tw.sweep_estimator
    "tunewidgets.ui.sweep.panel": {"SweepPanel.__init__"},  # public: tw.SweepPanel
    "tunewidgets.ui.train.panel": {"TrainPanel.__init__"},  # public: tw.TrainPanel
    "tunewidgets.plotting.compare": {"runs_figure", "scatter_figure"},  # plotting options
    "tunewidgets.plotting.sweep_charts": {"parallel_coordinates_figure"},  # plotting options
}


def functions_with_names(tree: ast.AST, prefix: str = ""):
    """(qualified name, function) for every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from functions_with_names(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions_with_names(node, f"{prefix}{node.name}.")
        else:
            yield from functions_with_names(node, prefix)


def test_no_internal_function_takes_more_than_8_parameters():
    """Self and cls are not counted; ``*args`` and ``**kwargs`` count one each."""
    found = []
    for module, path in MODULES.items():
        allowed = MANY_PARAMETERS_ALLOWED.get(module, set())
        for name, node in functions_with_names(ast.parse(path.read_text())):
            a = node.args
            named = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
            count = len(named) + (a.vararg is not None) + (a.kwarg is not None)
            if count > MAX_PARAMETERS and name not in allowed:
                found.append(f"{module}.{name} takes {count}")
    assert not found, found
