"""What the framework adapters share: the reranker from ``model=``, threshold checks, and ``RankedResult`` records
turned into a relevance score and JSON-ready metadata. Imports no framework.

Example:
    >>> reranker = build_reranker("path/to/nli-model")  # doctest: +SKIP
    >>> ranked = rerank_texts(reranker, "Aspirin prevents heart attacks.", ["text a", "text b"])  # doctest: +SKIP
    >>> [(position, metadata["relevance_score"]) for position, metadata in ranked]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from rerank.backends import LoadedModel
from rerank.contract import Reranker, check_thresholds
from rerank.fusion import order_column
from rerank.records import Candidate, Document, RankedResult, RelevanceResult, RerankResult

__all__ = [
    "build_reranker",
    "checked_thresholds",
    "model_name",
    "relevance_score",
    "relevance_values",
    "rerank_texts",
    "result_metadata",
]

NLI_COLUMNS = ("entailment", "neutral", "contradiction")


def build_reranker(model: object = None, settings: Mapping[str, Any] | None = None) -> Reranker:
    """The reranker an adapter runs: ``model`` itself when it already implements ``rerank.Reranker`` (an
    NLIReranker, a RelevanceReranker, or any class of yours), else an NLIReranker built from a hub id, a directory
    or a loaded model (``rerank.DEFAULT_MODEL`` when None) with ``settings`` (NLIReranker keyword arguments).

    Raises:
        ValueError: ``settings`` given with an already built reranker.
        TypeError: ``model`` of another type, or ``settings`` that is not a mapping.
    """
    if settings is not None and not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a dict of NLIReranker keyword arguments, got {type(settings).__name__}")
    settings = dict(settings or {})
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if model is None or isinstance(model, (str, LoadedModel)):
        from rerank.resolve import as_nli_reranker  # builds an NLIReranker: loads the model (torch or a graph)

        return cast(Reranker, as_nli_reranker(model, **settings))
    if isinstance(model, Reranker):
        if settings:
            raise ValueError(
                f"settings {sorted(settings)} cannot apply to an already built {type(model).__name__}; build it "
                "with them, or pass a hub id or path as model"
            )
        return model
    raise TypeError(
        "model must be a hub id, a directory, a rerank.load_model result or a reranker implementing "
        f"rerank.Reranker (NLIReranker, RelevanceReranker), got {type(model).__name__}"
    )


def model_name(reranker: Reranker) -> str:
    """The model's hub id or path when the reranker has one (``reranker.model.source``), else its class name."""
    source = getattr(getattr(reranker, "model", None), "source", None)
    return str(source) if source is not None else type(reranker).__name__


def checked_thresholds(reranker: Reranker, **given: Any) -> dict[str, float]:
    """The thresholds that are set (None dropped), validated by the reranker (its own ``check_thresholds`` when it
    has one, which knows e.g. that a 2-label model has no max_contradiction), else by the contract's.

    Raises:
        ValueError: A threshold the reranker does not accept, or a value outside [0, 1].
        TypeError: A value that is not a number.
    """
    own = getattr(reranker, "check_thresholds", None)
    if callable(own):
        return dict(own(**given))
    return check_thresholds(reranker.thresholds, given, type(reranker).__name__)


def relevance_values(reranker: Reranker, scores: np.ndarray) -> np.ndarray:
    """``relevance_score`` for every row of ``reranker.score``'s output: the probability the reranker orders by
    (entailment, or entailment + contradiction with ``order="decisiveness"``; a 1-column model's own value).

    Raises:
        ValueError: Scores of a shape the reranker's columns do not explain.
    """
    values = np.asarray(scores, dtype=np.float64)
    columns = tuple(reranker.columns)
    if columns == NLI_COLUMNS and values.ndim == 2 and values.shape[1] == 3:
        result = order_column(values, getattr(reranker, "order", "entailment"))
    elif len(columns) == 1 and values.ndim == 1:
        result = values
    else:
        raise ValueError(f"scores of shape {values.shape} do not match the reranker's columns {columns}")
    return np.clip(result, 0.0, 1.0)


def relevance_score(reranker: Reranker, result: RankedResult) -> float:
    """The probability ``result`` is ordered by, in [0, 1] (the HTTP service's ``relevance_score``): entailment, or
    entailment + contradiction when the reranker orders by decisiveness; a relevance model's probability. Never a
    fused value (that one is ``result.score`` when fusion is on).

    Raises:
        ValueError: A result of another reranker whose score is not a probability.
    """
    if isinstance(result, RerankResult):
        scores = result.scores
        row = np.array([[scores.entailment, scores.neutral, scores.contradiction]])
        return float(relevance_values(reranker, row)[0])
    if isinstance(result, RelevanceResult):
        return float(result.score)
    if result.score is None or not math.isfinite(result.score) or not 0.0 <= result.score <= 1.0:
        raise ValueError(
            f"{type(reranker).__name__} returned score {result.score!r} for document {result.document.id!r}; an "
            "adapter reports relevance_score as a probability in [0, 1]"
        )
    return float(result.score)


def result_metadata(reranker: Reranker, result: RankedResult, fused: bool = True) -> dict[str, Any]:
    """JSON-ready metadata of one result: ``relevance_score``; for NLI results the three probabilities, the evidence
    segment (text, [start, end) span in the text, sentence index, entailment) when segments were scored, and
    ``fused_score`` (the value the results are ordered by) when the reranker fuses with the retriever score and
    ``fused`` says the candidates had retriever scores to fuse."""
    metadata: dict[str, Any] = {"relevance_score": relevance_score(reranker, result)}
    if isinstance(result, RerankResult):
        metadata.update(result.scores.model_dump())
        if fused and getattr(reranker, "fusion_weight", None) is not None:
            metadata["fused_score"] = float(result.score)
        evidence = result.evidence
        if evidence is not None:
            metadata["evidence"] = {
                "text": evidence.sentence,
                "span": list(evidence.span) if evidence.span is not None else None,
                "sentence": evidence.index,
                "entailment": evidence.entailment,
            }
    return metadata


def rerank_texts(
    reranker: Reranker,
    query: str,
    texts: Sequence[str],
    retriever_scores: Sequence[float | None] | None = None,
    top_k: int | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Rerank framework documents given as texts: (input position, ``result_metadata``) of the kept ones, best first,
    cut to ``top_k``. A retriever score per text (None where there is none) feeds the reranker's fusion, if on.

    Raises:
        TypeError: A text that is not a str, naming its position.
        ValueError: An empty query or text, or bad thresholds (from the reranker).
    """
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"document at position {position} has no text to rerank (got {type(text).__name__})")
    if retriever_scores is not None and len(retriever_scores) != len(texts):
        raise ValueError(f"got {len(retriever_scores)} retriever scores for {len(texts)} documents")
    scores = [None if retriever_scores is None else _finite_or_none(retriever_scores[i]) for i in range(len(texts))]
    candidates = [
        Candidate(document=Document(id=str(position), text=text), retriever_score=score, retriever_rank=position + 1)
        for position, (text, score) in enumerate(zip(texts, scores, strict=True))
    ]
    results = reranker.rerank(query, candidates, top_k=top_k, **dict(thresholds or {}))
    fused = bool(scores) and all(score is not None for score in scores)  # a missing score turns the retriever term off
    return [(int(r.document.id), result_metadata(reranker, r, fused)) for r in results if r.kept]


def _finite_or_none(score: object) -> float | None:
    """A framework's retriever score as a float, or None when it has none (or a NaN / infinite one)."""
    if score is None or isinstance(score, bool):
        return None
    try:
        value = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
