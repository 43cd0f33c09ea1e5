"""Shared fixtures: a tiny DeBERTa-v2 classifier saved to disk, and paths into ../shared (skipped when absent)."""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Loading a model with only PyTorch weights would export it once (seconds to minutes); tests that are about that
# export turn it back on for themselves (tests/rerank/test_auto_loading.py).
os.environ["NLI_RERANK_AUTO_EXPORT"] = "0"
# Exports and fingerprint memos of the tests go to a folder of their own, never to the user's ~/.cache/nli-rerank.
# A subprocess a test starts (and that imports this module) shares its parent's folder.
_OWN_CACHE = not os.environ.get("NLI_RERANK_TEST_CACHE")
TEST_CACHE = os.environ.get("NLI_RERANK_TEST_CACHE") or tempfile.mkdtemp(prefix="nli-rerank-tests-")
os.environ["NLI_RERANK_TEST_CACHE"] = os.environ["NLI_RERANK_CACHE"] = TEST_CACHE


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE:
        shutil.rmtree(TEST_CACHE, ignore_errors=True)


REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()
TOKENIZER_DIR = SHARED_DIR / "models" / "deberta-v3-tokenizer"
MINI_NLI_DIR = SHARED_DIR / "models" / "mini-nli-minilm-l6"

NLI_ORDER = {0: "contradiction", 1: "entailment", 2: "neutral"}


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (it comes from the project's shared/ folder beside the repository)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require(SHARED_DIR)


@pytest.fixture(scope="session")
def mini_nli_dir() -> Path:
    return require(MINI_NLI_DIR)


@cache
def _deberta_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(require(TOKENIZER_DIR))


def build_tiny_deberta(directory: Path, id2label: dict[int, str], seed: int = 0) -> Path:
    """Save a 2-layer, hidden-32 DeBERTa-v2 sequence classifier with the real DeBERTa-v3 tokenizer."""
    import torch
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    tokenizer = _deberta_tokenizer()
    config = DebertaV2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=256,
        pos_att_type=["p2c", "c2p"],
        type_vocab_size=0,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={label: index for index, label in id2label.items()},
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = DebertaV2ForSequenceClassification(config).eval()
    with torch.no_grad():  # a random head gives near-uniform outputs; widen it so label order visibly matters
        model.classifier.weight.mul_(50.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_deberta_dir(tmp_path_factory) -> Path:
    """A saved tiny DeBERTa-v2 NLI classifier, id2label 0 contradiction, 1 entailment, 2 neutral."""
    return build_tiny_deberta(tmp_path_factory.mktemp("tiny-deberta"), NLI_ORDER)


@pytest.fixture(scope="session")
def tiny_deberta_permuted_dir(tmp_path_factory) -> Path:
    """tiny_deberta_dir's weights with id2label 0 entailment, 1 neutral, 2 contradiction."""
    return build_tiny_deberta(
        tmp_path_factory.mktemp("tiny-deberta-permuted"), {0: "entailment", 1: "neutral", 2: "contradiction"}
    )
