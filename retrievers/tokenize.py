"""BM25 tokenisation: ``rerank.tokenize`` (moved there so the reranker's lexical pre-selection reads words exactly as
BM25 does without ``rerank`` importing ``retrievers``); this module keeps the old import path."""

from __future__ import annotations

from rerank.tokenize import (
    AUTO,
    BIGRAM_LANGUAGES,
    DEFAULT_PATTERN,
    SNOWBALL_LANGUAGES,
    STOPWORDS,
    STOPWORDS_EN,
    Tokenizer,
    languages,
)

__all__ = [
    "AUTO",
    "BIGRAM_LANGUAGES",
    "DEFAULT_PATTERN",
    "SNOWBALL_LANGUAGES",
    "STOPWORDS",
    "STOPWORDS_EN",
    "Tokenizer",
    "languages",
]
