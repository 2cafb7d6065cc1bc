"""Errors that gazecam reports to users as one clear message (no traceback)."""

from __future__ import annotations

__all__ = ["GazecamError", "InputError"]


class GazecamError(RuntimeError):
    """Base class: the message is written for the user and printed as-is by the CLI."""


class InputError(GazecamError):
    """Bad user input: missing or unreadable file, unsupported format, bad option value."""
