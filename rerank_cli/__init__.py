"""The ``rerank`` command line: the one place that wires retrievers, rerankers and evaluation together."""
