"""Map a model's logits to (entailment, neutral, contradiction) columns using its own label names.

Label order differs between NLI models (cross-encoder/nli-deberta-v3-* use 0 contradiction, 1 entailment,
2 neutral; many mDeBERTa XNLI models use 0 entailment, 1 neutral, 2 contradiction), so it is always read from
``config.id2label`` (or given explicitly), never assumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LabelMap", "canonical_label", "label_map_from_names", "to_nli_columns"]

_SYNONYMS = {
    "entailment": "entailment",
    "entail": "entailment",
    "entails": "entailment",
    "entailed": "entailment",
    "neutral": "neutral",
    "contradiction": "contradiction",
    "contradict": "contradiction",
    "contradicts": "contradiction",
    "contradictory": "contradiction",
    "not_entailment": "not_entailment",
    "not_entail": "not_entailment",
    "non_entailment": "not_entailment",
    "not_entailed": "not_entailment",
}


def canonical_label(name: str) -> str | None:
    """Return "entailment", "neutral", "contradiction" or "not_entailment" for a label name, else None."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return _SYNONYMS.get(key)


@dataclass(frozen=True)
class LabelMap:
    """Logit positions of each NLI label; ``other`` holds the non-entailment position of a 2-label model."""

    num_labels: int
    entailment: int
    neutral: int | None = None
    contradiction: int | None = None
    other: int | None = None

    @property
    def has_contradiction(self) -> bool:
        return self.contradiction is not None


def label_map_from_names(names: Sequence[str] | Mapping[int, str]) -> LabelMap:
    """Build a LabelMap from label names in logit order (a list, or an id2label mapping).

    Raises:
        ValueError: The names do not identify an entailment label, or a 3-label model lacks one of the three.
    """
    ordered = [names[key] for key in sorted(names, key=int)] if isinstance(names, Mapping) else list(names)
    canonical = [canonical_label(name) for name in ordered]
    if len(ordered) < 2:
        raise ValueError(
            f"an NLI model needs 2 or 3 output labels, this one has {len(ordered)} ({ordered}); "
            "a 1-logit model is a relevance cross-encoder: use RelevanceReranker"
        )
    if len(ordered) > 3:
        raise ValueError(f"an NLI model needs 2 or 3 output labels, this one has {len(ordered)}: {ordered}")
    hint = "pass labels=[...] naming each logit in order, e.g. labels=['contradiction', 'entailment', 'neutral']"
    if canonical.count("entailment") != 1 or len(set(canonical)) != len(canonical) or None in canonical:
        raise ValueError(f"cannot tell the NLI labels from {ordered}; {hint}")
    index = {label: position for position, label in enumerate(canonical)}
    if len(ordered) == 3:
        if set(index) != {"entailment", "neutral", "contradiction"}:
            raise ValueError(f"a 3-label NLI model needs entailment, neutral and contradiction, got {ordered}; {hint}")
        return LabelMap(3, index["entailment"], index["neutral"], index["contradiction"])
    (other,) = (position for label, position in index.items() if label != "entailment")
    return LabelMap(2, index["entailment"], other=other)


def to_nli_columns(probabilities: np.ndarray, label_map: LabelMap) -> np.ndarray:
    """Reorder softmax probabilities (n, num_labels) into (n, 3) columns entailment, neutral, contradiction.

    For a 2-label model the non-entailment mass goes to the neutral column and contradiction is 0.
    """
    if probabilities.ndim != 2 or probabilities.shape[1] != label_map.num_labels:
        raise ValueError(f"expected probabilities of shape (n, {label_map.num_labels}), got {probabilities.shape}")
    columns = np.zeros((probabilities.shape[0], 3), dtype=probabilities.dtype)
    columns[:, 0] = probabilities[:, label_map.entailment]
    if label_map.num_labels == 3:
        columns[:, 1] = probabilities[:, label_map.neutral]
        columns[:, 2] = probabilities[:, label_map.contradiction]
    else:
        columns[:, 1] = probabilities[:, label_map.other]
    return columns
