"""LlamaIndex: ``NLIRerankPostprocessor``, a ``BaseNodePostprocessor`` that reranks and filters retrieved nodes.

Use it in ``node_postprocessors=[...]`` of a query engine, or call ``postprocess_nodes(nodes, query_str=...)``
(``apostprocess_nodes`` runs it in a thread). Needs ``pip install 'nli-rerank[llamaindex]'``.

Example:
    >>> from rerank.integrations.llama_index import NLIRerankPostprocessor
    >>> postprocessor = NLIRerankPostprocessor(model="cross-encoder/nli-deberta-v3-small", top_n=3)  # doctest: +SKIP
    >>> query = "Aspirin prevents heart attacks."
    >>> nodes = postprocessor.postprocess_nodes(retrieved, query_str=query)  # doctest: +SKIP
    >>> nodes[0].score, nodes[0].node.metadata["entailment"]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rerank.contract import Reranker
from rerank.errors import MissingDependencyError
from rerank.integrations._shared import build_reranker, checked_thresholds, model_name, rerank_texts

try:
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "rerank.integrations.llama_index needs llama-index-core; install it with: pip install 'nli-rerank[llamaindex]'"
    ) from error

__all__ = ["NLIRerankPostprocessor"]


class NLIRerankPostprocessor(BaseNodePostprocessor):
    """Rerank LlamaIndex nodes with an NLI (or relevance) cross-encoder; keep the best ``top_n``.

    Node text is read as the framework's own SentenceTransformerRerank reads it,
    ``node.get_content(metadata_mode=MetadataMode.EMBED)``. Returns copies of the kept nodes, best first, with
    ``score`` = ``relevance_score`` (in [0, 1]: the probability the order is based on, entailment by default) and
    in the node's metadata ``relevance_score``, ``entailment`` / ``neutral`` / ``contradiction``, ``evidence`` (at
    sentence or window granularity) and ``fused_score`` (the order value, when the reranker fuses the retrieval
    score, which every node had), all excluded from the text the LLM and embedder see. Nodes that fail a threshold
    are dropped. The caller's nodes are never changed.

    Args:
        model: Hub id or directory of an NLI model (rerank.DEFAULT_MODEL when None), a model loaded with
            ``rerank.load_model``, or an already built reranker (NLIReranker, RelevanceReranker, any
            ``rerank.Reranker``) to share one loaded model.
        top_n: How many nodes to return at most (None: every kept one).
        min_entailment: Drop nodes whose entailment probability is below this.
        max_contradiction: Drop nodes whose contradiction probability is above this (3-label models).
        min_score: Drop nodes below this relevance probability (relevance rerankers only).
        keep_retrieval_score: Keep the retriever's score in metadata ``retrieval_score``.
        settings: NLIReranker keyword arguments (granularity, batch_size, ...) when ``model`` is an id or path.

    Raises:
        ValueError: A threshold the reranker does not accept or outside [0, 1]; top_n below 1.
    """

    model: str = Field(description="hub id or path of the model (or the reranker's class name)")
    top_n: int | None = Field(default=2, ge=1, description="nodes returned at most; None for all kept")
    min_entailment: float | None = Field(default=None, ge=0.0, le=1.0)
    max_contradiction: float | None = Field(default=None, ge=0.0, le=1.0)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    keep_retrieval_score: bool = Field(default=False, description="keep the retriever's score in metadata")

    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: str | Path | Reranker | None = None,
        *,
        top_n: int | None = 2,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
        min_score: float | None = None,
        keep_retrieval_score: bool = False,
        settings: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        reranker = build_reranker(model, settings)
        super().__init__(  # type: ignore[call-arg]  # the fields declared above, which mypy cannot see here
            model=model_name(reranker), top_n=top_n, min_entailment=min_entailment,
            max_contradiction=max_contradiction, min_score=min_score, keep_retrieval_score=keep_retrieval_score,
            **kwargs,
        )  # fmt: skip
        self._reranker = reranker
        self._thresholds()

    @classmethod
    def class_name(cls) -> str:
        return "NLIRerankPostprocessor"

    @property
    def reranker(self) -> Reranker:
        """The reranker this postprocessor runs (built once, at construction)."""
        return self._reranker

    def _thresholds(self) -> dict[str, float]:
        given = {"min_entailment": self.min_entailment, "max_contradiction": self.max_contradiction,
                 "min_score": self.min_score}  # fmt: skip
        return checked_thresholds(self._reranker, **given)

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError(
                "NLIRerankPostprocessor needs the query: call postprocess_nodes(nodes, query_str=...) or pass "
                "query_bundle=QueryBundle(...); got query_bundle=None"
            )
        for position, item in enumerate(nodes):
            if not isinstance(item, NodeWithScore):
                raise TypeError(f"node at position {position} must be a NodeWithScore, got {type(item).__name__}")
        if not nodes:
            return []
        texts = [item.node.get_content(metadata_mode=MetadataMode.EMBED) for item in nodes]
        payload: dict[str, Any] = {EventPayload.NODES: nodes, EventPayload.MODEL_NAME: self.model,
                   EventPayload.QUERY_STR: query_bundle.query_str, EventPayload.TOP_K: self.top_n}  # fmt: skip
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            ranked = rerank_texts(self._reranker, query_bundle.query_str, texts, [item.score for item in nodes],
                                  top_k=self.top_n, thresholds=self._thresholds())  # fmt: skip
            kept = [self._scored_copy(nodes[position], metadata) for position, metadata in ranked]
            event.on_end(payload={EventPayload.NODES: kept})
        return kept

    def _scored_copy(self, item: NodeWithScore, scores: dict[str, Any]) -> NodeWithScore:
        """A copy of ``item`` with the scores in its metadata, hidden from the LLM's and the embedder's text."""
        node = item.node
        added = {**scores, "retrieval_score": item.score} if self.keep_retrieval_score else scores
        hidden = {"excluded_embed_metadata_keys": node.excluded_embed_metadata_keys,
                  "excluded_llm_metadata_keys": node.excluded_llm_metadata_keys}  # fmt: skip
        update: dict[str, Any] = {name: [*keys, *(key for key in added if key not in keys)]
                                  for name, keys in hidden.items()}  # fmt: skip
        update["metadata"] = {**node.metadata, **added}
        return NodeWithScore(node=node.model_copy(update=update), score=scores["relevance_score"])
