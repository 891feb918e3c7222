"""The import layering of docs/architecture.md, read from the source with `ast`.

Every import counts: module level, inside functions and under `if TYPE_CHECKING:`. A module
may import modules of its own layer or below, never one above; modules of a layer may import
each other as long as no import cycle forms.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

# Module-name pattern (fnmatch) -> layer, highest first. docs/architecture.md shows the same
# table.
LAYERS = {
    # the commands
    "basenji_tf.cli": 5,
    "basenji_tf.cli.*": 5,
    # tools: what the commands call
    "basenji_tf.train": 4,
    "basenji_tf.train_data": 4,  # the data sources the training loop consumes
    "basenji_tf.distribute": 4,
    "basenji_tf.checkpoint": 4,
    "basenji_tf.optimizers": 4,
    "basenji_tf.evaluate": 4,
    "basenji_tf.evaluate_genes": 4,
    "basenji_tf.evaluate_specificity": 4,  # basenji_test_specificity.py
    "basenji_tf.train_head": 4,  # basenji_train_head.py
    "basenji_tf.transfer": 4,  # fine-tuning: transfer modes, merges, basenji_transfer.py
    "basenji_tf.export": 4,
    "basenji_tf.scoring": 4,
    "basenji_tf.scoring.*": 4,
    "basenji_tf.interpret": 4,  # attribution: gradients, integrated gradients, DeepSHAP
    "basenji_tf.interpret.*": 4,
    "basenji_tf.data": 4,
    "basenji_tf.data_*": 4,  # modules split from the basenji_data.py pipeline
    "basenji_tf.demo": 4,
    "basenji_tf.legacy_*": 4,
    "basenji_tf.sim": 4,
    "basenji_tf.sim.*": 4,
    "basenji_tf.plots": 4,
    "basenji_tf.tfr_tools": 4,  # tfr_bw.py, tfr_qc.py
    "basenji_tf.model_files": 4,  # save_model.py
    # model wing: seqnn -> blocks -> layers
    "basenji_tf.seqnn": 3,
    "basenji_tf.fold": 3,  # batch normalisation folded into convolutions (inference)
    "basenji_tf.blocks": 2,
    "basenji_tf.adapters": 2,  # LoRA, IA3, Houlsby, squeeze-excite for transfer learning
    "basenji_tf.params": 2,
    "basenji_tf.weights": 2,
    "basenji_tf.metrics": 2,
    "basenji_tf.layers": 1,
    # data wing: tfrecords, dataset, genome, targets, bam -> dna
    "basenji_tf.tfrecords": 2,
    "basenji_tf.dataset": 2,
    "basenji_tf.genome": 2,
    "basenji_tf.targets": 2,
    "basenji_tf.bam": 2,
    "basenji_tf.bam_*": 2,  # bam_cov.py's reading, EM and GC steps
    "basenji_tf.mappability": 2,  # unmappable_bed.py: mappability BigWig -> unmappable BED
    "basenji_tf.dna": 1,
    # used by all
    "basenji_tf": 0,
    "basenji_tf.files": 0,
    "basenji_tf.errors": 0,
    "basenji_tf.textio": 0,  # input files: path or "-", plain/gzip/bgzip, one-line errors
    "basenji_tf.progress": 0,  # progress bars on a terminal, log lines elsewhere
    "basenji_tf.hardware": 0,  # CPU flags (native bfloat16?), cores, clock; no TensorFlow
    "basenji_tf.execute": 0,  # how shards and tasks run (processes, Dask): data and scoring
}
MODEL_WING = ("seqnn", "fold", "blocks", "adapters", "layers", "params", "weights", "metrics")
DATA_WING = ("tfrecords", "dataset", "genome", "targets", "bam", "dna", "mappability")
CLI = "basenji_tf.cli"


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to a module of basenji_tf."""

    source: str  # importing module
    target: str  # imported module (a basenji_tf module or package)
    line: int
    top_level: bool  # False: inside a function


def layer(module: str) -> int | None:
    """The layer of `module`, or None if no pattern covers it."""
    for pattern, rank in LAYERS.items():
        if fnmatch.fnmatchcase(module, pattern):
            return rank
    return None


def in_wing(module: str, wing: tuple[str, ...]) -> bool:
    return any(module == f"basenji_tf.{name}" for name in wing)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _known(name: str, modules: set[str]) -> str | None:
    """`name` or its longest prefix that is a basenji_tf module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from ... import` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.AST, module: str, is_package: bool, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _from_base(node, module, is_package)
        # `from pkg import sub` imports the submodule; `from pkg import name` the package.
        names = [f"{base}.{alias.name}" for alias in node.names]
    found = (_known(name, modules) for name in names)
    return sorted({name for name in found if name})


def _imports_of(tree: ast.Module, module: str, is_package: bool, modules: set[str]):
    local = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, module, is_package, modules):
                if target != module:
                    yield Import(module, target, node.lineno, id(node) not in local)


@dataclass(frozen=True, repr=False)  # no repr: pytest would print every tree on failure
class Package:
    """Every module of basenji_tf with its parsed source."""

    trees: dict[str, ast.Module]
    imports: list[Import]


@pytest.fixture(scope="module")
def package(repo: Path) -> Package:
    paths = {module_name(p, repo): p for p in sorted((repo / "basenji_tf").rglob("*.py"))}
    trees = {name: ast.parse(path.read_text(), str(path)) for name, path in paths.items()}
    modules = set(paths)
    imports = [
        imp
        for name, tree in trees.items()
        for imp in _imports_of(tree, name, paths[name].name == "__init__.py", modules)
    ]
    return Package(trees, imports)


def _lines(imports: list[Import]) -> str:
    rows = sorted((i.source, i.line, i.target) for i in imports)
    return "\n".join(f"  {source}:{line} imports {target}" for source, line, target in rows)


def test_every_module_has_a_layer(package):
    missing = sorted(m for m in package.trees if layer(m) is None)
    assert not missing, f"add these modules to LAYERS (and docs/architecture.md): {missing}"


def test_no_module_imports_a_layer_above_it(package):
    upward = [
        i
        for i in package.imports
        if None not in (layer(i.source), layer(i.target)) and layer(i.target) > layer(i.source)
    ]
    assert not upward, "imports against the layering:\n" + _lines(upward)


def test_data_wing_never_imports_the_model_wing(package):
    crossing = [
        i for i in package.imports if in_wing(i.source, DATA_WING) and in_wing(i.target, MODEL_WING)
    ]
    assert not crossing, "data wing -> model wing:\n" + _lines(crossing)


def _names_cli(tree: ast.Module) -> bool:
    """Whether a module launches a command by its module path (`python -m basenji_tf.cli.x`)."""
    return any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and CLI in node.value
        for node in ast.walk(tree)
    )


def test_nothing_but_cli_names_the_cli(package):
    importers = [
        i for i in package.imports if i.target.startswith(CLI) and not i.source.startswith(CLI)
    ]
    launchers = sorted(
        m for m, tree in package.trees.items() if not m.startswith(CLI) and _names_cli(tree)
    )
    assert not importers, "library modules importing the CLI:\n" + _lines(importers)
    assert not launchers, f"library modules naming a CLI module in a string: {launchers}"


def test_library_imports_basenji_tf_at_module_top(package):
    local = [i for i in package.imports if not i.top_level and not i.source.startswith(CLI)]
    assert not local, "function-local imports of basenji_tf modules:\n" + _lines(local)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles(package):
    edges: dict[str, set[str]] = {}
    for i in package.imports:
        edges.setdefault(i.source, set()).add(i.target)
    assert not _cycles(edges), f"import cycles: {_cycles(edges)}"


def test_cycle_finder_and_resolver_work():
    """The checks above would pass vacuously if these helpers found nothing."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    modules = {"basenji_tf", "basenji_tf.scoring", "basenji_tf.scoring.vcf", "basenji_tf.dna"}
    tree = ast.parse(
        "from . import vcf\nfrom ..dna import hot1_rc\nfrom basenji_tf.scoring import run\n"
        "def f():\n    import basenji_tf.dna\n"
    )
    found = list(_imports_of(tree, "basenji_tf.scoring.sad", False, modules))
    assert [(i.target, i.top_level) for i in found] == [
        ("basenji_tf.scoring.vcf", True),
        ("basenji_tf.dna", True),
        ("basenji_tf.scoring", True),
        ("basenji_tf.dna", False),
    ]
