"""Versioned JSON documents: the model folder's config.json and the ONNX export's export.json.

Both carry "format" (what the file is) and "format_version" (its layout); a reader refuses a
damaged, foreign or differently versioned file with one message that says what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

from a2m_core.errors import InputError


def read_document(path: Path, format_name: str, version: int, what: str, fix: str,
                  error: type[InputError] = InputError) -> dict:
    """The JSON object at `path` whose "format" is format_name at `version`; otherwise `error`
    naming the file, what is wrong and `fix`. The caller checks that the file exists."""
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path} is not valid JSON ({exc}), the file is damaged: {fix}") from exc
    if not isinstance(document, dict) or document.get("format") != format_name:
        raise error(f"{path} is not {what} (no \"format\": \"{format_name}\"): {fix}")
    if document.get("format_version") != version:
        raise error(f"{path} has format_version {document.get('format_version')!r}, this a2m reads {version}: {fix}")
    return document
