"""The package's shape: no import cycle between modules, no module importing another's private name."""
import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "mialth_utils"


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: pathlib.Path, modules: dict) -> list[tuple[str, str, bool]]:
    """(imported module, imported name, at module level) for every relative import of a module."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in modules else target, alias.name, id(node) in top))
    return found


def test_no_import_cycle():
    modules = _modules()
    graph = {name: {t for t, _, top in _imports(name, path, modules) if top and t in modules}
             for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for dep in graph[node]:
            assert state.get(dep) != 1, f"import cycle: {' -> '.join(stack[stack.index(dep):] + [dep])}"
            if not state.get(dep):
                visit(dep, stack + [dep])
        state[node] = 2

    for name in graph:
        if not state.get(name):
            visit(name, [name])


def test_no_module_imports_a_private_name():
    modules = _modules()
    private = [(name, target, imported) for name, path in modules.items()
               for target, imported, _ in _imports(name, path, modules)
               if imported.startswith("_") and target != name]
    assert not private
