"""Adapters for retrieval frameworks, one leaf module each, imported only when asked for.

Each adapter is thin over the reranker contract (``rerank.Reranker``) and needs its framework, installed with the
matching extra:

- ``rerank.integrations.langchain``: ``NLIRerankCompressor``, a LangChain ``BaseDocumentCompressor``
  (``pip install 'nli-rerank[langchain]'``).
- ``rerank.integrations.llama_index``: ``NLIRerankPostprocessor``, a LlamaIndex ``BaseNodePostprocessor``
  (``pip install 'nli-rerank[llamaindex]'``).
- ``rerank.integrations.haystack``: ``NLIRanker``, a Haystack 3 ``@component`` ranker
  (``pip install 'nli-rerank[haystack]'``).
- ``rerank.integrations.ray``: ``NLIBatchScorer`` and ``rerank_dataset`` for batch scoring on Ray Data
  (``pip install 'nli-rerank[ray]'``).

Every adapter reports the same numbers (see docs/integrations.md): ``relevance_score`` in [0, 1] is the probability
the order is based on (entailment, or entailment + contradiction with ``order="decisiveness"``; a relevance model's
probability), never a fused value; the NLI probabilities and the evidence sentence ride along in the metadata.

Importing this package imports no framework.
"""
