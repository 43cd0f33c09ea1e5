"""NLIReranker: order and filter candidates by how strongly each passage entails the query.

Direction (``direction=``): by default the passage is the premise and the query (or claim) the hypothesis. The
question a retrieval pipeline asks is "does this passage support the statement?", which is premise => hypothesis;
NLI models are trained with the longer, evidence-bearing text first. ``"query-premise"`` asks the reverse ("does the
query imply this passage?") and ``"both"`` averages the two directions' probabilities, a symmetric similarity
(docs/direction.md says when to use which). Only the passage is ever truncated, whichever side it is on.
A ``hypothesis_template`` such as "This text is about {}." turns a keyword query into a statement.

Pre-selection (``max_segments=m``): at sentence and window granularity only the m segments with the most query terms
(``rerank.preselect``, the BM25 tokenizer) are scored per document; ``rerank(max_contradiction=...)`` and
``rerank_many(max_contradiction=...)`` score every segment, so a contradicting sentence is never left out of the
filter. No document is ever scored on more than ``rerank.preselect.SEGMENT_CAP`` segments (logged when one is cut).
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
from rerank.preselect import SEGMENT_CAP, preselect_tokenizer, select_segments
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
from rerank.shared_tokenizer import tokenize
from rerank.validation import check_positive_int, check_query, check_top_k

__all__ = [
    "DEFAULT_DIRECTION",
    "DEFAULT_FUSION_WEIGHT",
    "DEFAULT_GRANULARITY",
    "DEFAULT_MAX_SEGMENTS",
    "DEFAULT_MODEL",
    "DIRECTIONS",
    "GRANULARITIES",
    "NLIReranker",
    "softmax",
]

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
# Which text is the premise: the passage (default), the query, or both ways averaged.
DIRECTIONS = ("passage-premise", "query-premise", "both")
DEFAULT_DIRECTION = "passage-premise"
# Segments scored per document at sentence/window granularity (None: all): the smallest m whose SciFact train nDCG@10
# is within 0.005 of every segment's (docs/evaluation.md, "Pair direction and lexical pre-selection").
DEFAULT_MAX_SEGMENTS: int | None = 1
MIN_QUERY_ROOM = 16  # tokens a window must leave for the query and the special tokens within max_length


def check_max_segments(value: object) -> int | None:
    """None (score every segment) or a positive int."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_segments must be a positive int or None (every segment), got {value!r}")
    return value


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
        aggregate: How segment entailments make the document's: "max" (default), "first" or "mean" (over the
            segments scored: with ``max_segments`` set, the pre-selected ones).
        order: What results are ordered by (fused with the retriever when fusion_weight is set): "entailment", or
            "decisiveness" = entailment + contradiction = 1 - neutral (a passage that refutes the claim is as
            relevant to it as one that supports it). Thresholds always act on the probabilities.
        language: Language code of the documents for sentence splitting ("de", "zh", "hi", ...; None or "en" is
            the English rule) and for the pre-selection's BM25 tokenizer; see rerank.sentences.
        direction: Which text is the premise: "passage-premise" (default: does the passage support the query?),
            "query-premise" (the query is the premise and the passage the hypothesis) or "both" (the mean of the two
            directions' probabilities, a symmetric similarity; twice the pairs). See docs/direction.md.
        max_segments: At sentence and window granularity, score only the m segments per document with the most
            query terms (``rerank.preselect``; default 1, measured on SciFact); None scores every segment.
            ``rerank`` with ``max_contradiction`` scores every segment regardless, so pre-selection never hides a
            contradiction from the filter.
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
        direction: str = DEFAULT_DIRECTION,
        max_segments: int | None = DEFAULT_MAX_SEGMENTS,
        calibration: CalibrationInput = None,
        options: ModelOptions | None = None,
        **option_values: Any,
    ):
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        for name, value, choices in (("title", title, TITLE_MODES), ("aggregate", aggregate, AGGREGATES),
                                     ("order", order, ORDERS), ("direction", direction, DIRECTIONS)):  # fmt: skip
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
        self.direction = direction
        self.max_segments = check_max_segments(max_segments)
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
        if self.direction != DEFAULT_DIRECTION:
            parts["direction"] = self.direction
        if self.granularity != "passage" and self.max_segments is not None:
            parts["max_segments"] = self.max_segments
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

    def selected_segments(self, query: str, document: Document, *, all_segments: bool = False) -> list[Segment]:
        """The segments of ``document`` that get a model pair for ``query``, in document order: the
        ``max_segments`` with the most query terms (every segment when ``all_segments`` or max_segments is None),
        never more than ``rerank.preselect.SEGMENT_CAP``."""
        segments = self.segment(document)
        limit = SEGMENT_CAP if all_segments or self.max_segments is None else min(self.max_segments, SEGMENT_CAP)
        if len(segments) <= limit:
            return segments
        if limit == SEGMENT_CAP:
            logger.warning(
                "document %r has %d segments; scoring the %d with the most query terms (rerank.preselect.SEGMENT_CAP)",
                document.id, len(segments), SEGMENT_CAP,
            )  # fmt: skip
        chosen = select_segments(
            query, [segment.text for segment in segments], limit, preselect_tokenizer(self.language)
        )
        return [segments[i] for i in chosen]

    def pair_count(self, document: Document, *, all_segments: bool = False) -> int:
        """Model pairs ``score`` spends on ``document`` for any query: its pre-selected segments, twice for
        direction "both"."""
        segments = len(self.segment(document))
        limit = SEGMENT_CAP if all_segments or self.max_segments is None else min(self.max_segments, SEGMENT_CAP)
        return min(segments, limit) * (2 if self.direction == "both" else 1)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of the model's tokens in ``text`` (words when the tokenizer cannot give offsets)."""
        tokenizer = self.model.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            return word_offsets(text)
        offsets = tokenize(tokenizer, text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return [(start, end) for start, end in offsets if end > start]

    def pair_logits(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Raw logits (n, num_labels) in the model's own label order (``label_map``) for (premise, hypothesis) pairs,
        before any calibration: what ``rerank.calibration`` fits on."""
        _check_pairs(premises, hypotheses)
        return self._scorer.logits(list(premises), list(hypotheses))

    def directed_scores(self, passages: Sequence[str], queries: Sequence[str]) -> np.ndarray:
        """Probabilities (n, 3) for (passage, query) pairs read in this reranker's ``direction``: passage as
        premise, query as premise (only the passage is truncated either way), or the mean of the two."""
        if self.direction == "passage-premise":
            return self.score_pairs(passages, queries)
        _check_pairs(passages, queries)
        swapped = self.head(self._scorer.logits(list(passages), list(queries), query_first=True))
        if self.direction == "query-premise":
            return swapped
        return (self.score_pairs(passages, queries) + swapped) / 2.0

    def score_pairs(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Probabilities (n, 3) with columns entailment, neutral, contradiction for (premise, hypothesis) pairs."""
        return self.head(self.pair_logits(premises, hypotheses))

    def score(self, query: str, documents: Sequence[Document | str]) -> np.ndarray:
        """Probabilities (n, 3), columns entailment, neutral, contradiction, one row per document in input order.

        At sentence granularity a row holds the maximum entailment and maximum contradiction over the passage's
        sentences and neutral = 1 - both; when one sentence entails and another contradicts so strongly that the
        two maxima exceed 1, both are scaled to sum to 1 (a conflicting passage).
        """
        return self._score_many([query], [as_documents(documents)], all_segments=False)[0][0]

    def _score_many(
        self, queries: Sequence[str], document_lists: Sequence[list[Document]], *, all_segments: bool
    ) -> list[tuple[np.ndarray, list[Evidence | None]]]:
        """Per query, document rows and evidence, with every pair of every query scored in one length-sorted pass
        (one per direction)."""
        statements = [self.hypothesis(check_query(query)) for query in queries]
        for documents in document_lists:
            check_scorable(documents)
        plans = [
            [self.selected_segments(query, document, all_segments=all_segments) for document in documents]
            for query, documents in zip(queries, document_lists, strict=True)
        ]
        passages = [segment.text for plan in plans for segments in plan for segment in segments]
        hypotheses = [
            statement for statement, plan in zip(statements, plans, strict=True) for segments in plan for _ in segments
        ]
        pair_scores = self.directed_scores(passages, hypotheses) if passages else np.empty((0, 3))
        results, start = [], 0
        for plan in plans:
            count = sum(len(segments) for segments in plan)
            results.append(self._aggregate(plan, pair_scores[start : start + count]))
            start += count
        return results

    def _aggregate(
        self, split: list[list[Segment]], pair_scores: np.ndarray
    ) -> tuple[np.ndarray, list[Evidence | None]]:
        """Document rows from their segments' pair scores (entailment by ``aggregate``, contradiction the maximum)
        and each document's best-entailing segment as evidence."""
        if not split:
            return np.empty((0, 3)), []
        if self.granularity == "passage":
            return pair_scores, [None] * len(split)
        rows, start = np.empty((len(split), 3)), 0
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
        With ``max_contradiction`` every segment of every candidate is scored (no pre-selection).

        Raises:
            ValueError: Empty query, NaN or out-of-range thresholds, max_contradiction on a 2-label model.
        """
        return self.rerank_many([query], [candidates], top_k, min_entailment, max_contradiction)[0]

    def rerank_many(
        self,
        queries: Sequence[str],
        candidate_lists: Sequence[Sequence[Candidate | Document | str]],
        top_k: int | None = None,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
    ) -> list[list[RerankResult]]:
        """``rerank`` for many queries, ``candidate_lists[i]`` being query i's candidates, with every pair of every
        query scored in one length-sorted pass (fewer, fuller batches); the results are those of ``rerank`` one
        query at a time (to float rounding: within 1e-5 in fp32).

        Example:
            >>> reranker.rerank_many(["claim one", "claim two"], [["passage a", "b"], ["c"]])  # doctest: +SKIP
        """
        limits = self.check_thresholds(min_entailment=min_entailment, max_contradiction=max_contradiction)
        top_k = check_top_k(top_k)
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise TypeError(f"queries must be a list of str, got {type(queries).__name__}; use rerank() for one")
        if isinstance(candidate_lists, str) or not isinstance(candidate_lists, Sequence):
            raise TypeError(f"candidate_lists must be a list of candidate lists, got {type(candidate_lists).__name__}")
        if len(queries) != len(candidate_lists):
            raise ValueError(f"got {len(queries)} queries but {len(candidate_lists)} candidate lists")
        for query in queries:
            check_query(query)
        lists = [as_candidates(candidates) for candidates in candidate_lists]
        scored = self._score_many(
            queries,
            [[c.document for c in candidates] for candidates in lists],
            all_segments="max_contradiction" in limits,
        )
        return [
            self._results(candidates, scores, evidence, limits, top_k)
            for candidates, (scores, evidence) in zip(lists, scored, strict=True)
        ]

    def _results(
        self,
        candidates: list[Candidate],
        scores: np.ndarray,
        evidence: list[Evidence | None],
        limits: dict[str, float],
        top_k: int | None,
    ) -> list[RerankResult]:
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


def _check_pairs(premises: Sequence[str], hypotheses: Sequence[str]) -> None:
    """Equal lengths, and every text a non-empty str."""
    if len(premises) != len(hypotheses):
        raise ValueError(f"got {len(premises)} premises but {len(hypotheses)} hypotheses")
    for name, texts in (("premise", premises), ("hypothesis", hypotheses)):
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{name} at position {position} must be a str, got {type(text).__name__}")
            if not has_visible_text(text):
                raise ValueError(f"{name} at position {position} is empty")
            check_text(f"{name} at position {position}", text)
