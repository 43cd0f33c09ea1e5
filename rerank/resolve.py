"""``model=`` for the task calls (verify, classify, answers, groundedness): a hub id, a path, a loaded model, or an
already built reranker, so one loaded model serves many calls.

Example:
    >>> reranker = as_nli_reranker("path/to/nli-model", granularity="window")  # doctest: +SKIP
    >>> as_nli_reranker(reranker) is reranker  # doctest: +SKIP
    True
"""

from __future__ import annotations

from typing import Any

from rerank.backends import LoadedModel
from rerank.nli_reranker import DEFAULT_MODEL, NLIReranker

__all__ = ["as_nli_reranker"]


def as_nli_reranker(model: str | LoadedModel | NLIReranker | None = None, **settings: Any) -> NLIReranker:
    """The NLIReranker a task runs: ``model`` itself when it is one, else one built from a hub id, a directory or a
    LoadedModel (``DEFAULT_MODEL`` when None) with ``settings`` (NLIReranker keyword arguments).

    Raises:
        ValueError: Settings given with an already built reranker (build it with them instead).
        TypeError: ``model`` of another type.
    """
    if isinstance(model, NLIReranker):
        if settings:
            raise ValueError(
                f"{sorted(settings)} cannot apply to an already built NLIReranker; build it with them, or pass a model "
                "id or path instead"
            )
        return model
    if model is None:
        model = DEFAULT_MODEL
    if not isinstance(model, (str, LoadedModel)):
        raise TypeError(
            f"model must be a hub id, a directory, a LoadedModel or an NLIReranker, got {type(model).__name__}"
        )
    return NLIReranker(model, **settings)
