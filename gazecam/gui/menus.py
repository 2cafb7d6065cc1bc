"""The window's menus and keyboard shortcuts (one action per command, also active with the menu bar hidden)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence

from .controls import ControlPanel

__all__ = ["build_menus", "shortcuts_text"]

#: Keys of the overlay toggles (View menu).
OVERLAY_KEYS = {"arrows": "A", "heatmap": "H", "combined_heatmap": "C", "boxes": "B", "ids": "I",
                "out_of_frame": "O", "looking_at": "L"}


def build_menus(win: Any) -> dict[str, QAction]:
    """Source, Playback, View, Model and Help menus of ``win`` (a :class:`~gazecam.gui.window.MainWindow`,
    not imported here: the window imports this module); returns the actions by name."""
    mb = win.menuBar()
    actions: dict[str, QAction] = {}

    def act(menu, name: str, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None,
            checkable: bool = False, checked: bool = False) -> QAction:
        a = QAction(text, win)
        a.setObjectName(name)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if checkable:
            a.setCheckable(True)
            a.setChecked(checked)
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda _=False: slot())
        menu.addAction(a)
        win.addAction(a)  # shortcuts work even with the menu bar hidden
        actions[name] = a
        return a

    m = mb.addMenu("&Source")
    act(m, "open_file", "Open &file…", win.ask_open_file, QKeySequence.StandardKey.Open)
    act(m, "open_folder", "Open folder of &images…", win.ask_open_folder, "Ctrl+Shift+O")
    act(m, "open_camera", "Open &camera…", win.ask_open_camera, "Ctrl+K")
    act(m, "open_url", "Open &URL…", win.ask_open_url, "Ctrl+U")
    act(m, "reconnect", "&Reconnect / reopen", win.reconnect, "F5")
    m.addSeparator()
    act(m, "quit", "&Quit", win.close, QKeySequence.StandardKey.Quit)

    m = mb.addMenu("&Playback")
    act(m, "play_pause", "Play / &pause", win.toggle_play, "Space")
    act(m, "step_forward", "Next frame", lambda: win.step(1), "Right")
    act(m, "step_back", "Previous frame", lambda: win.step(-1), "Left")
    act(m, "jump_forward", "Forward 5 s", lambda: win.jump(5.0), "Shift+Right")
    act(m, "jump_back", "Back 5 s", lambda: win.jump(-5.0), "Shift+Left")
    act(m, "to_start", "To the start", lambda: win.seek(0), "Home")
    act(m, "slower", "Slower", lambda: win.transport.nudge_speed(-1), "[")
    act(m, "faster", "Faster", lambda: win.transport.nudge_speed(1), "]")
    m.addSeparator()
    act(m, "record", "&Record annotated video", win.toggle_recording, "R")
    act(m, "snapshot", "&Snapshot (PNG)", win.snapshot, "S")

    m = mb.addMenu("&View")
    for key, label in ControlPanel.OVERLAYS:
        check = win.controls.checks[key]
        a = act(m, f"toggle_{key}", label, check.setChecked, OVERLAY_KEYS.get(key), checkable=True,
                checked=check.isChecked())
        check.toggled.connect(a.setChecked)
    m.addSeparator()
    act(m, "fullscreen", "&Full screen", lambda: win.showNormal() if win.isFullScreen() else win.showFullScreen(),
        "F11")
    m.addAction(win.controls_dock.toggleViewAction())
    m.addAction(win.people_dock.toggleViewAction())

    m = mb.addMenu("&Model")
    act(m, "model_files", "Load local weight &files…", win.ask_model_files, "Ctrl+M")
    act(m, "model_reload", "&Reload the chosen model", lambda: win.controls.load_button.click())

    m = mb.addMenu("&Help")
    act(m, "shortcuts", "&Keyboard shortcuts", win.show_shortcuts, "F1")
    return actions


def shortcuts_text(actions: dict[str, QAction]) -> str:
    """One line per action with a shortcut: ``key   what it does``."""
    return "\n".join(f"{a.shortcut().toString():>12}   {a.text().replace('&', '')}"
                     for a in actions.values() if not a.shortcut().isEmpty())
