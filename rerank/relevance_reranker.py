"""RelevanceReranker: a 1-logit relevance cross-encoder (e.g. MS MARCO MiniLM) with the same batching machinery.

Its score is the sigmoid of the logit, a relevance estimate in [0, 1]; it is not an NLI probability and is never
split into fake entailment/neutral/contradiction columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rerank.backends import LoadedModel
from rerank.cache import ScoreCache
from rerank.ordering import check_scorable, result_order
from rerank.records import Candidate, Document, RelevanceResult, as_candidates, as_documents
from rerank.scorer import CrossEncoderScorer
from rerank.validation import check_query, check_threshold, check_top_k

__all__ = ["RelevanceReranker"]


class RelevanceReranker:
    """Score and rerank passages with a relevance cross-encoder (query first, passage second, as such models are
    trained).

    Example:
        >>> reranker = RelevanceReranker("path/to/ms-marco-MiniLM-L-12-v2")  # doctest: +SKIP
        >>> reranker.rerank("what lowers blood pressure", ["Salt raises it.", "Diuretics lower it."])  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | LoadedModel,
        *,
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "cpu",
        threads: int | None = None,
        backend: str = "auto",
        precision: str = "fp32",
        show_progress: bool = True,
        cache: ScoreCache | None = None,
    ):
        self._scorer = CrossEncoderScorer(
            model, batch_size=batch_size, max_length=max_length, device=device, threads=threads,
            backend=backend, precision=precision, show_progress=show_progress, cache=cache,
        )  # fmt: skip
        if self._scorer.model.num_logits != 1:
            raise ValueError(
                f"model {self._scorer.model.source!r} has {self._scorer.model.num_logits} output logits; "
                "RelevanceReranker needs a 1-logit relevance cross-encoder (use NLIReranker for NLI models)"
            )

    @property
    def model(self):
        return self._scorer.model

    def score(self, query: str, documents: Sequence[Document | str]) -> np.ndarray:
        """Relevance probabilities (n,) in input order."""
        query = check_query(query)
        documents = as_documents(documents)
        check_scorable(documents)
        # Relevance models are trained on (query, passage) pairs, the reverse of the NLI order.
        logits = self._scorer.logits([d.content for d in documents], [query] * len(documents), query_first=True)
        return 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))

    def rerank(
        self,
        query: str,
        candidates: Sequence[Candidate | Document | str],
        top_k: int | None = None,
        min_score: float | None = None,
    ) -> list[RelevanceResult]:
        """Order candidates by relevance (ties to the better retriever rank); below ``min_score`` is not kept."""
        min_score = check_threshold("min_score", min_score)
        top_k = check_top_k(top_k)
        candidates = as_candidates(candidates)
        scores = self.score(query, [c.document for c in candidates])
        kept = scores >= min_score if min_score is not None else np.ones(len(candidates), dtype=bool)
        return [
            RelevanceResult(candidate=candidates[i], score=float(scores[i]), rank=rank, kept=bool(kept[i]))
            for rank, i in enumerate(result_order(scores, kept, candidates, top_k), start=1)
        ]
