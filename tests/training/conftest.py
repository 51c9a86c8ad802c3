"""A tiny corpus (built with the real corpus builder and espeak-ng) shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.data.corpus import CorpusConfig, build_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """12 clips, 2 utterances each, split like the real corpus."""
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    build_corpus(out, CorpusConfig(num_clips=12, seed=5, num_utterances=2, num_espeak_voices=8), workers=2)
    return out
