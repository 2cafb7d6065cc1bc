"""The GUI reads video only through gazecam.capture: no PyAV, no OpenCV capture, no second reader in gazecam/gui."""

from __future__ import annotations

import ast
from pathlib import Path

import gazecam.gui

GUI = Path(gazecam.gui.__file__).parent
#: Modules that decode or open video; the GUI must go through gazecam.capture's public API instead.
FORBIDDEN_MODULES = ("av", "cv2", "imageio", "decord", "gazecam.capture.video", "gazecam.capture.readers")
#: Names that open or decode video, and the GUI's deleted duplicates of gazecam.capture.
FORBIDDEN_NAMES = {"VideoCapture", "FilePlayer", "SourceMeta", "SourceError", "_to_rgb", "read_image"}


def _imported(tree: ast.Module, module: str) -> list[str]:
    """Absolute names of the modules a file imports (relative imports resolved against ``module``)."""
    names = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def _offences(path: Path) -> list[str]:
    module = "gazecam.gui." + path.stem
    tree = ast.parse(path.read_text(), filename=str(path))
    found = [f"imports {name}" for name in _imported(tree, module)
             if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES)]
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else (
            node.name if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None)
        if name in FORBIDDEN_NAMES:
            found.append(f"uses {name} (line {node.lineno})")
    return [f"{path.name}: {what}" for what in found]


def test_gui_opens_no_video_itself():
    files = sorted(GUI.glob("*.py"))
    assert len(files) > 10  # the whole package was scanned
    offences = [o for path in files for o in _offences(path)]
    assert offences == []


def test_the_scan_catches_what_it_looks_for(tmp_path):
    """The checker itself: each way of opening video by hand is reported."""
    cases = {
        "a.py": "import av\n",
        "b.py": "from av.container import InputContainer\n",
        "c.py": "import cv2\ncap = cv2.VideoCapture(0)\n",
        "d.py": "from ..capture.video import VideoFileReader\n",
        "e.py": "class FilePlayer:\n    pass\n",
        "f.py": "def f():\n    import av as _av\n    return _av.open('x')\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert _offences(tmp_path / name), name
    (tmp_path / "ok.py").write_text("from ..capture import Capture, open_file\nfrom ..imageio import write_png\n")
    assert _offences(tmp_path / "ok.py") == []
