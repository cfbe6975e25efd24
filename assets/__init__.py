"""What the app ships that is not Python: the stylesheets (next: kernel presets, the devnet's data).

The top-level assets/ folder installs as the package `gonka_tui.assets` (pyproject.toml maps it),
so files here are found through importlib.resources from a wheel and from an editable install.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib.resources import as_file, files
from pathlib import Path

# Files handed out as paths stay valid until exit (a zipped install extracts them to a temp dir).
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def asset_path(name: str) -> Path:
    """A file on disk for the asset `name`, e.g. 'app.tcss'."""
    return _extracted.enter_context(as_file(files(__name__).joinpath(name)))
