"""NLIReranker: order and filter candidates by how strongly each passage entails the query.

Direction: the passage is the premise and the query (or claim) the hypothesis. The question a retrieval
pipeline asks is "does this passage support the statement?", which is premise => hypothesis; NLI models are
trained with the longer, evidence-bearing text first, and only the premise is truncated when a pair is too long.
A ``hypothesis_template`` such as "This text is about {}." turns a keyword query into a statement.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rerank.backends import LoadedModel
from rerank.calibration import CalibrationInput, resolve_calibration
from rerank.contract import check_thresholds
from rerank.fingerprint import fingerprint
from rerank.fusion import ORDERS, fused_scores, order_column
from rerank.head import NLI_COLUMNS, NLIHead, Temperature, softmax
from rerank.labels import LabelMap, label_map_from_names
from rerank.options import ModelOptions
from rerank.ordering import check_scorable, result_order
from rerank.records import (
    Candidate,
    Document,
    Evidence,
    NLIScores,
    RerankResult,
    as_candidates,
    as_documents,
    check_text,
    has_visible_text,
)
from rerank.scorer import CrossEncoderScorer
from rerank.segmenter import (
    DEFAULT_GRANULARITY,
    DEFAULT_TITLE,
    DEFAULT_WINDOW_TOKENS,
    GRANULARITIES,
    TITLE_MODES,
    Segment,
    segment_document,
    word_offsets,
)
from rerank.sentences import check_language
from rerank.validation import check_positive_int, check_query, check_top_k

__all__ = ["DEFAULT_FUSION_WEIGHT", "DEFAULT_GRANULARITY", "DEFAULT_MODEL", "GRANULARITIES", "NLIReranker", "softmax"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "cross-encoder/nli-deberta-v3-small"
# The README's "Choosing the mode" table (SciFact, BM25 top 30) is the measurement behind these two defaults.
DEFAULT_FUSION_WEIGHT = 2.0
THRESHOLDS_3_LABEL = frozenset({"min_entailment", "max_contradiction"})
THRESHOLDS_2_LABEL = frozenset({"min_entailment"})
# How segment entailments make a document's entailment; contradiction is always the maximum over segments.
AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "max": lambda values: float(values.max()),
    "first": lambda values: float(values[0]),
    "mean": lambda values: float(values.mean()),
}
MIN_QUERY_ROOM = 16  # tokens a window must leave for the query and the special tokens within max_length


def check_template(template: object) -> str | None:
    """A hypothesis template: None, or a str with exactly one ``{}`` and no other replacement field."""
    if template is None:
        return None
    if not isinstance(template, str):
        raise TypeError(f"hypothesis_template must be a str with one '{{}}' or None, got {type(template).__name__}")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ValueError(f"hypothesis_template {template!r} is not a valid format string ({error})") from None
    if fields != [""]:
        raise ValueError(
            f"hypothesis_template must contain exactly one '{{}}' and no other {{...}} field, got {template!r} "
            "(write literal braces as {{ and }})"
        )
    return check_text("hypothesis_template", template)


class NLIReranker:
    """Score, rerank and filter passages with an NLI cross-encoder (implements ``rerank.Reranker``).

    Args:
        model: Hub id or local directory of a 2- or 3-label NLI sequence classifier, or a model already loaded
            with ``rerank.load_model`` (to share one copy between rerankers).
        granularity: "passage" scores the whole passage (truncated at max_length); "sentence" scores each sentence;
            "window" scores windows of consecutive sentences up to ``window_tokens`` tokens with a one-sentence
            overlap (see rerank.segmenter). Per document, entailment is aggregated over segments (``aggregate``),
            contradiction is their maximum, and the best-entailing segment is the evidence, with its span.
        fusion_weight: None orders by entailment probability alone; a number w orders by
            z-normalised retriever score + w x entailment (the retriever term is 0 without retriever scores).
        hypothesis_template: Optional format string with one "{}" applied to the query, e.g. "This text is about {}.".
        labels: Label names in logit order, overriding a config whose id2label says LABEL_0, LABEL_1, ...
        title: At sentence and window granularity, how a document's title is scored: "sentence" (one more
            segment), "prefix" (prepended to each segment) or "ignore" (only when the text is empty).
        window_tokens: Token budget of a window (the premise; the query comes on top, within max_length).
        aggregate: How segment entailments make the document's: "max" (default), "first" or "mean".
        order: What results are ordered by (fused with the retriever when fusion_weight is set): "entailment", or
            "decisiveness" = entailment + contradiction = 1 - neutral (a passage that refutes the claim is as
            relevant to it as one that supports it). Thresholds always act on the probabilities.
        language: Language code of the documents for sentence splitting ("de", "zh", "hi", ...; None or "en" is
            the English rule); see rerank.sentences.
        calibration: A calibration file written by ``rerank calibrate`` (path or ``rerank.calibration``
            CalibrationFile) or a ``rerank.head.Temperature``: logits are divided by its temperature before the
            softmax. It changes probabilities (hence thresholds and fusion) but never a pair's argmax; a file fitted
            for other weights is used with a logged warning (see docs/calibration.md).
        options: A ``rerank.ModelOptions``; keyword options (``backend``, ``precision``, ``device``, ``threads``,
            ``batch_size``, ``max_length``, ``show_progress``, ``cache``) are applied on top of it.

    Attributes:
        calibration_file: The CalibrationFile given (or read from the path given), with its chosen thresholds
            (``calibration_file.threshold_values()``); None without one.

    Example:
        >>> reranker = NLIReranker("path/to/nli-model", batch_size=16)  # doctest: +SKIP
        >>> results = reranker.rerank("Aspirin prevents heart attacks.", ["Aspirin cut infarctions by 40%.", "..."])
        >>> [(r.rank, r.scores.entailment, r.kept) for r in results]  # doctest: +SKIP
    """

    columns = NLI_COLUMNS

    def __init__(
        self,
        model: str | LoadedModel = DEFAULT_MODEL,
        *,
        granularity: str = DEFAULT_GRANULARITY,
        fusion_weight: float | None = DEFAULT_FUSION_WEIGHT,
        hypothesis_template: str | None = None,
        labels: Sequence[str] | Mapping[int, str] | None = None,
        title: str = DEFAULT_TITLE,
        window_tokens: int = DEFAULT_WINDOW_TOKENS,
        aggregate: str = "max",
        order: str = "entailment",
        language: str | None = None,
        calibration: CalibrationInput = None,
        options: ModelOptions | None = None,
        **option_values: Any,
    ):
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        for name, value, choices in (("title", title, TITLE_MODES), ("aggregate", aggregate, AGGREGATES),
                                     ("order", order, ORDERS)):  # fmt: skip
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        if fusion_weight is not None and (
            isinstance(fusion_weight, bool)
            or not isinstance(fusion_weight, (int, float))
            or not np.isfinite(fusion_weight)
        ):
            raise ValueError(f"fusion_weight must be a finite number or None, got {fusion_weight!r}")
        self.granularity = granularity
        self.title = title
        self.aggregate = aggregate
        self.order = order
        self.window_tokens = check_positive_int("window_tokens", window_tokens)
        check_language(language)
        self.language = language
        self.fusion_weight = None if fusion_weight is None else float(fusion_weight)
        self.hypothesis_template = check_template(hypothesis_template)
        self._scorer = CrossEncoderScorer(model, options, **option_values)
        if granularity == "window" and self.window_tokens + MIN_QUERY_ROOM > self._scorer.max_length:
            raise ValueError(
                f"window_tokens={self.window_tokens} leaves no room for the query within max_length="
                f"{self._scorer.max_length}; use at most {self._scorer.max_length - MIN_QUERY_ROOM}"
            )
        self.label_map = self._label_map(labels)
        temperature, self.calibration_file = resolve_calibration(
            calibration, Temperature, self.model, f"NLIReranker({self.model.source!r})"
        )
        self.head = NLIHead(self.label_map, calibration=temperature)

    def _label_map(self, labels: Sequence[str] | Mapping[int, str] | None) -> LabelMap:
        loaded = self._scorer.model
        if loaded.num_logits == 1:
            raise ValueError(
                f"model {loaded.source!r} has a single output logit: it is a relevance cross-encoder, not an NLI "
                "model; use RelevanceReranker for it"
            )
        names = labels if labels is not None else loaded.id2label
        if not names:
            raise ValueError(f"model {loaded.source!r} has no id2label in its config; pass labels=[...] in logit order")
        label_map = label_map_from_names(names)
        if label_map.num_labels != loaded.num_logits:
            raise ValueError(f"{label_map.num_labels} labels given for a model with {loaded.num_logits} output logits")
        return label_map

    @property
    def model(self) -> LoadedModel:
        return self._scorer.model

    @property
    def options(self) -> ModelOptions:
        """The runtime options in force (max_length capped at the model's positions)."""
        return self._scorer.options

    @property
    def calibration(self) -> Temperature | None:
        """The temperature the head applies, or None (uncalibrated)."""
        return self.head.calibration

    @property
    def truncated_pairs(self) -> int:
        """How many premises have been truncated to max_length so far."""
        return self._scorer.truncated_pairs

    @property
    def thresholds(self) -> frozenset[str]:
        """min_entailment, and max_contradiction for 3-label models."""
        return THRESHOLDS_3_LABEL if self.label_map.has_contradiction else THRESHOLDS_2_LABEL

    @property
    def fingerprint(self) -> str:
        """Identity of every setting that changes a score (see rerank.fingerprint); fusion weight and thresholds,
        which only reorder or filter, are not part of it."""
        parts: dict[str, Any] = {
            "reranker": "nli", "scorer": self._scorer.fingerprint, "head": self.head.identity(),
            "granularity": self.granularity, "title": self.title if self.granularity != "passage" else None,
            "template": self.hypothesis_template,
        }  # fmt: skip
        # Settings added later enter only when they act, so scores stored before they existed stay valid.
        if self.granularity == "window":
            parts["window_tokens"] = self.window_tokens
        if self.granularity != "passage" and self.aggregate != "max":
            parts["aggregate"] = self.aggregate
        if self.granularity != "passage" and check_language(self.language) is not None:
            parts["language"] = check_language(self.language)
        return fingerprint(parts)

    def hypothesis(self, query: str) -> str:
        return self.hypothesis_template.format(query) if self.hypothesis_template else query

    def segment(self, document: Document) -> list[Segment]:
        """The segments (text, first sentence, character span) one document becomes at this granularity."""
        return segment_document(
            document, self.granularity, self.title, window_tokens=self.window_tokens,
            token_offsets=self.token_offsets, language=self.language,
        )  # fmt: skip

    def segments(self, document: Document) -> list[str]:
        """The premises one document becomes at this granularity (one model pair each)."""
        return [segment.text for segment in self.segment(document)]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of the model's tokens in ``text`` (words when the tokenizer cannot give offsets)."""
        tokenizer = self.model.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            return word_offsets(text)
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return [(start, end) for start, end in offsets if end > start]

    def pair_logits(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Raw logits (n, num_labels) in the model's own label order (``label_map``) for (premise, hypothesis) pairs,
        before any calibration: what ``rerank.calibration`` fits on."""
        if len(premises) != len(hypotheses):
            raise ValueError(f"got {len(premises)} premises but {len(hypotheses)} hypotheses")
        for name, texts in (("premise", premises), ("hypothesis", hypotheses)):
            for position, text in enumerate(texts):
                if not isinstance(text, str):
                    raise TypeError(f"{name} at position {position} must be a str, got {type(text).__name__}")
                if not has_visible_text(text):
                    raise ValueError(f"{name} at position {position} is empty")
                check_text(f"{name} at position {position}", text)
        return self._scorer.logits(list(premises), list(hypotheses))

    def score_pairs(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Probabilities (n, 3) with columns entailment, neutral, contradiction for (premise, hypothesis) pairs."""
        return self.head(self.pair_logits(premises, hypotheses))

    def score(self, query: str, documents: Sequence[Document | str]) -> np.ndarray:
        """Probabilities (n, 3), columns entailment, neutral, contradiction, one row per document in input order.

        At sentence granularity a row holds the maximum entailment and maximum contradiction over the passage's
        sentences and neutral = 1 - both; when one sentence entails and another contradicts so strongly that the
        two maxima exceed 1, both are scaled to sum to 1 (a conflicting passage).
        """
        return self._score_with_evidence(query, as_documents(documents))[0]

    def _score_with_evidence(self, query: str, documents: list[Document]) -> tuple[np.ndarray, list[Evidence | None]]:
        hypothesis = self.hypothesis(check_query(query))
        check_scorable(documents)
        if not documents:
            return np.empty((0, 3)), []
        split = [self.segment(document) for document in documents]
        flat = [segment.text for segments in split for segment in segments]
        pair_scores = self.score_pairs(flat, [hypothesis] * len(flat))
        if self.granularity == "passage":
            return pair_scores, [None] * len(documents)
        rows, start = np.empty((len(documents), 3)), 0
        evidence: list[Evidence | None] = []
        for i, segments in enumerate(split):
            block = pair_scores[start : start + len(segments)]
            start += len(segments)
            best = int(block[:, 0].argmax())
            entailment, contradiction = AGGREGATES[self.aggregate](block[:, 0]), block[:, 2].max()
            total = entailment + contradiction
            if total > 1.0:
                entailment, contradiction = entailment / total, contradiction / total
            rows[i] = (entailment, max(0.0, 1.0 - entailment - contradiction), contradiction)
            top = segments[best]
            evidence.append(
                Evidence(sentence=top.text, index=top.sentence, span=top.span, entailment=float(block[best, 0]))
            )
        return rows, evidence

    def order_values(self, candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
        """Entailment (or decisiveness, per ``order``), or z(retriever score) + fusion_weight x it when fusion is on."""
        value = order_column(np.asarray(scores).reshape(len(candidates), 3), self.order)
        if self.fusion_weight is None:
            return value
        return fused_scores([c.retriever_score for c in candidates], value, self.fusion_weight)

    def check_thresholds(self, **given: Any) -> dict[str, float]:
        """The set thresholds, validated (see rerank.contract.check_thresholds)."""
        if given.get("max_contradiction") is not None and not self.label_map.has_contradiction:
            raise ValueError(
                f"max_contradiction needs a 3-label NLI model; {self.model.source!r} has 2 labels "
                "(entailment / not entailment) and cannot tell contradiction from neutral"
            )
        return check_thresholds(self.thresholds, given, f"NLIReranker({self.model.source!r})")

    def rerank(
        self,
        query: str,
        candidates: Sequence[Candidate | Document | str],
        top_k: int | None = None,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
    ) -> list[RerankResult]:
        """Score candidates, order them, and mark those failing a threshold as not kept.

        Kept results come first (ranked by entailment, or the fused score when fusion_weight is set; ties go to
        the better retriever rank), truncated to ``top_k``; every filtered-out candidate follows with kept=False.

        Raises:
            ValueError: Empty query, NaN or out-of-range thresholds, max_contradiction on a 2-label model.
        """
        limits = self.check_thresholds(min_entailment=min_entailment, max_contradiction=max_contradiction)
        top_k = check_top_k(top_k)
        check_query(query)
        candidates = as_candidates(candidates)
        scores, evidence = self._score_with_evidence(query, [candidate.document for candidate in candidates])
        order_by = self.order_values(candidates, scores)
        kept = np.ones(len(candidates), dtype=bool)
        if "min_entailment" in limits:
            kept &= scores[:, 0] >= limits["min_entailment"]
        if "max_contradiction" in limits:
            kept &= scores[:, 2] <= limits["max_contradiction"]
        return [
            RerankResult(
                candidate=candidates[i],
                scores=NLIScores.from_row(scores[i]),
                score=float(order_by[i]),
                rank=rank,
                kept=bool(kept[i]),
                evidence=evidence[i],
            )
            for rank, i in enumerate(result_order(order_by, kept, candidates, top_k), start=1)
        ]
