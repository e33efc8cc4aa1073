"""The package's modules import one another without circles: each layer stands on the ones
below it (read from the source with `ast`, every import counted, lazy and type-only ones too)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "voice_settings"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_by(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` (at `path`) imports; its own packages, which Python
    imports before it anyway, left out."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            # `from x import y` imports x, and x.y when y is a module
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in known and not name.startswith(t))
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported_by(name, path, set(found)) for name, path in found.items()}


def test_the_reader_sees_the_imports_it_must() -> None:
    graph = import_graph()
    assert "voice_settings.harness.deepgram_wire" in graph["voice_settings.harness.deepgram_listen"]
    assert "voice_settings.harness.room_feed" in graph["voice_settings.harness.local_participant"]
    assert "voice_settings.lab.cli" in graph["voice_settings.cli"]  # the lazy import counts
    assert "voice_settings.harness.stream_info" in graph["voice_settings.harness.local_participant"]


def test_the_package_has_no_import_circle() -> None:
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None
