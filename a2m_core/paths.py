"""Files that ship with the a2m checkout, found from the installed (editable) package.

One place for these paths, so the CLI, the runtime and the ROS nodes agree whatever the
current directory is.
"""

from __future__ import annotations

from pathlib import Path

from a2m_core.errors import InputError

CHECKOUT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL_DIR = CHECKOUT / "models" / "default"  # the trained default model (training/ship.py makes it)


def shipped_model_dir() -> Path:
    """The shipped default model, or an InputError saying to pass a model folder."""
    if not (SHIPPED_MODEL_DIR / "config.json").is_file():
        raise InputError(f"the shipped default model is not at {SHIPPED_MODEL_DIR} (it comes with a git clone "
                         "of a2m): pass --model DIR, e.g. one made by `a2m model init` or `a2m train`")
    return SHIPPED_MODEL_DIR
