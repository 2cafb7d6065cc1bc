"""Sub-commands of the ``gazecam`` CLI (each cheap to import: no torch at import time)."""
