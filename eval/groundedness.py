"""Groundedness evaluation: answers with known sentence labels built from NLI pairs, and the metrics of
``rerank.groundedness`` on them.

No groundedness set ships with the project, so one is built from an NLI test set whose premises come with several
hypotheses (SNLI gives each premise an entailed, a neutral and a contradicted one):

- the pairs are grouped by premise; each premise gives one answer, its hypotheses joined by spaces: with probability
  ``entailed_only`` one of its entailed hypotheses alone (so "fully supported" has positives), otherwise a random
  subset of two or more of its hypotheses (all it has, when fewer) in random order;
- a hypothesis without a final ``.``, ``!`` or ``?`` gets a full stop (SICK's have none), so sentences can be told
  apart; an answer whose sentences ``split_sentences`` does not give back exactly is dropped and counted;
- the retrieved context is the premise and ``distractors`` other premises of the same set, shuffled; a premise
  paired with one of the answer's hypotheses anywhere in the set is never a distractor (its label is known, and not
  neutral, for some);
- each sentence's gold label follows its pair's: entailment -> SUPPORTED, neutral -> UNSUPPORTED,
  contradiction -> CONTRADICTED (distractors being other scenes, they are taken to say nothing about it).

Everything is seeded; ``split_by_premise`` halves a set by premise for choosing thresholds on one half.

Example:
    >>> pairs = NLIExamples(["A man sings.", "A man sings.", "A dog runs."], ["A person sings.", "A man is mute.",
    ...                      "An animal runs."], ["entailment", "contradiction", "entailment"])
    >>> built = build_groundedness_set(pairs, distractors=1, entailed_only=0.0)
    >>> built.examples[0].labels
    ['SUPPORTED', 'CONTRADICTED']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from eval.data import NLIExamples
from rerank.groundedness import Groundedness, label_sentences
from rerank.records import Document
from rerank.sentences import split_sentences

__all__ = [
    "GOLD_LABELS",
    "GroundednessExample",
    "GroundednessReport",
    "GroundednessSet",
    "SentenceScores",
    "balanced_accuracy",
    "build_groundedness_set",
    "choose_thresholds",
    "evaluate_groundedness",
    "roc_auc",
    "sentence_scores",
    "split_by_premise",
]

GOLD_LABELS = {"entailment": "SUPPORTED", "neutral": "UNSUPPORTED", "contradiction": "CONTRADICTED"}
SENTENCE_LABELS = ("SUPPORTED", "UNSUPPORTED", "CONTRADICTED")
Rule = Callable[..., list]


@dataclass(frozen=True)
class GroundednessExample:
    """One answer with its context and the gold label of each of its sentences."""

    id: str
    answer: str
    passages: list[Document]
    labels: list[str]
    premise_id: str

    @property
    def fully_supported(self) -> bool:
        return all(label == "SUPPORTED" for label in self.labels)


@dataclass(frozen=True)
class GroundednessSet:
    """Built answers, and how many were dropped because the splitter did not give their sentences back."""

    name: str
    examples: list[GroundednessExample]
    dropped: int

    def __len__(self) -> int:
        return len(self.examples)


def _as_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1] in ".!?" else text + "."


def _grouped(pairs: NLIExamples) -> dict[str, list[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for premise, hypothesis, label in zip(pairs.premises, pairs.hypotheses, pairs.labels, strict=True):
        if label not in GOLD_LABELS:
            raise ValueError(f"unknown NLI label {label!r}; expected one of {sorted(GOLD_LABELS)}")
        groups.setdefault(premise, []).append((_as_sentence(hypothesis), label))
    return groups


def split_by_premise(pairs: NLIExamples, fraction: float = 0.5, seed: int = 0) -> tuple[NLIExamples, NLIExamples]:
    """Two sets of pairs with no premise in both: a seeded ``fraction`` of the premises, and the rest."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    premises = list(dict.fromkeys(pairs.premises))
    chosen = set(random.Random(seed).sample(premises, round(len(premises) * fraction)))
    rows = list(zip(pairs.premises, pairs.hypotheses, pairs.labels, strict=True))
    sides = [[row for row in rows if (row[0] in chosen) == wanted] for wanted in (True, False)]
    names = (f"{pairs.name}[{fraction:g}, seed {seed}]", f"{pairs.name}[rest, seed {seed}]")
    return tuple(  # type: ignore[return-value]
        NLIExamples([r[0] for r in side], [r[1] for r in side], [r[2] for r in side], name)
        for side, name in zip(sides, names, strict=True)
    )


def build_groundedness_set(
    pairs: NLIExamples, *, distractors: int = 3, entailed_only: float = 1 / 3, seed: int = 0, name: str = ""
) -> GroundednessSet:
    """Answers with known sentence labels from NLI pairs (the module docstring says how).

    Raises:
        ValueError: An unknown label, fewer premises than ``distractors`` + 1, or a bad argument.
    """
    if not 0.0 <= entailed_only <= 1.0:
        raise ValueError(f"entailed_only must be a probability in [0, 1], got {entailed_only!r}")
    groups = _grouped(pairs)
    premises = list(groups)
    if distractors < 0 or len(premises) < distractors + 1:
        raise ValueError(f"need at least {distractors + 1} premises for {distractors} distractors, got {len(premises)}")
    known = {(premise, hypothesis) for premise, items in groups.items() for hypothesis, _ in items}
    rng = random.Random(seed)
    examples, dropped = [], 0
    for index, premise in enumerate(premises):
        items = groups[premise]
        entailed = [item for item in items if item[1] == "entailment"]
        if entailed and rng.random() < entailed_only:
            chosen = [rng.choice(entailed)]
        else:
            chosen = rng.sample(items, rng.randint(min(2, len(items)), len(items)))
        texts = [hypothesis for hypothesis, _ in chosen]
        answer = " ".join(texts)
        if split_sentences(answer) != texts:
            dropped += 1
            continue
        others: list[int] = []
        for _ in range(1000 * distractors):
            if len(others) == distractors:
                break
            other = rng.randrange(len(premises))
            text = premises[other]
            related = text == premise or any((text, t) in known for t in texts)
            if other != index and other not in others and not related:
                others.append(other)
        if len(others) < distractors:
            raise ValueError(f"found only {len(others)} distractors for premise {premise!r} in 1000 draws each")
        context = [index, *others]
        rng.shuffle(context)
        passages = [Document(id=f"p{i}", text=premises[i]) for i in context]
        examples.append(GroundednessExample(
            id=f"{name or 'answer'}-{index}", answer=answer, passages=passages,
            labels=[GOLD_LABELS[label] for _, label in chosen], premise_id=f"p{index}",
        ))  # fmt: skip
    return GroundednessSet(name or pairs.name, examples, dropped)


# ---- metrics ---------------------------------------------------------------------------------------------------


def balanced_accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Balanced accuracy: the mean over the gold classes present of their recall,
    (1 / |C|) * sum_c |{i : gold_i = c and predicted_i = c}| / |{i : gold_i = c}|.

    Example:
        >>> balanced_accuracy(["a", "a", "a", "b"], ["a", "a", "b", "b"])
        0.8333333333333333
    """
    if len(gold) != len(predicted):
        raise ValueError(f"got {len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise ValueError("no examples to evaluate")
    g, p = np.asarray(gold), np.asarray(predicted)
    return float(np.mean([(p[g == c] == c).mean() for c in np.unique(g)]))


def roc_auc(positive: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative (ties
    count half), computed from ranks: (sum of positive ranks - P(P+1)/2) / (P N).

    Example:
        >>> roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4])
        0.875
    """
    y = np.asarray(positive, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"positive and scores must be 1-D of one length, got shapes {y.shape} and {s.shape}")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        raise ValueError(f"ROC-AUC needs positives and negatives, got {n_pos} and {n_neg}")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class SentenceScores:
    """Per sentence of every answer: its gold label, its answer's position, its entailment and contradiction."""

    gold: list[str]
    answer: np.ndarray
    entailment: np.ndarray
    contradiction: np.ndarray


def sentence_scores(examples: Sequence[GroundednessExample], results: Sequence[Groundedness]) -> SentenceScores:
    """Flatten answers and their ``groundedness`` results into SentenceScores (thresholds can then be swept).

    Raises:
        ValueError: A result whose sentences are not the example's (a different split).
    """
    if len(examples) != len(results):
        raise ValueError(f"got {len(examples)} examples but {len(results)} results")
    gold, answer, e, c = [], [], [], []
    for i, (example, result) in enumerate(zip(examples, results, strict=True)):
        if len(result.sentences) != len(example.labels):
            raise ValueError(f"answer {example.id!r}: {len(example.labels)} gold labels, "
                             f"{len(result.sentences)} sentences checked")  # fmt: skip
        for label, check in zip(example.labels, result.sentences, strict=True):
            gold.append(label)
            answer.append(i)
            e.append(check.p_entailment)
            c.append(check.p_contradiction)
    return SentenceScores(gold, np.array(answer, dtype=np.int64), np.array(e), np.array(c))


@dataclass(frozen=True)
class GroundednessReport:
    """Sentence- and answer-level quality of groundedness labels.

    Attributes:
        label_balanced_accuracy: Balanced accuracy of the three sentence labels.
        flag_balanced_accuracy: Balanced accuracy of flagging a sentence (label not SUPPORTED) against gold
            UNSUPPORTED or CONTRADICTED.
        flag_roc_auc: ROC-AUC of 1 - entailment for the same detection (threshold-free).
        answer_accuracy: Accuracy of "fully supported" (every sentence SUPPORTED) per answer.
        answer_base_rate: Share of answers gold fully supported (always saying "not fully supported" scores
            1 - this).
    """

    sentences: int
    answers: int
    label_balanced_accuracy: float
    flag_balanced_accuracy: float
    flag_roc_auc: float
    answer_accuracy: float
    answer_base_rate: float
    recall: dict[str, float]


def evaluate_groundedness(
    scores: SentenceScores,
    *,
    min_entailment: float = 0.5,
    max_contradiction: float = 0.5,
    rule: Rule = label_sentences,
) -> GroundednessReport:
    """Label every sentence with ``rule`` (``rerank.groundedness.label_sentences``) at these thresholds and score it."""
    predicted = rule(scores.entailment, scores.contradiction, min_entailment=min_entailment,
                     max_contradiction=max_contradiction)  # fmt: skip
    gold = np.asarray(scores.gold)
    predicted_arr = np.asarray(predicted)
    gold_flag, predicted_flag = gold != "SUPPORTED", predicted_arr != "SUPPORTED"
    answers = int(scores.answer.max()) + 1 if len(scores.answer) else 0
    gold_full = np.ones(answers, dtype=bool)
    predicted_full = np.ones(answers, dtype=bool)
    np.logical_and.at(gold_full, scores.answer, ~gold_flag)
    np.logical_and.at(predicted_full, scores.answer, ~predicted_flag)
    return GroundednessReport(
        sentences=len(gold), answers=answers,
        label_balanced_accuracy=balanced_accuracy(list(gold), list(predicted_arr)),
        flag_balanced_accuracy=balanced_accuracy([str(f) for f in gold_flag], [str(f) for f in predicted_flag]),
        flag_roc_auc=roc_auc(gold_flag, 1.0 - scores.entailment),
        answer_accuracy=float((gold_full == predicted_full).mean()),
        answer_base_rate=float(gold_full.mean()),
        recall={label: float((predicted_arr[gold == label] == label).mean()) for label in SENTENCE_LABELS
                if (gold == label).any()},
    )  # fmt: skip


def choose_thresholds(
    scores: SentenceScores, grid: Sequence[float], rule: Rule = label_sentences
) -> tuple[float, float, GroundednessReport]:
    """The (min_entailment, max_contradiction) of grid x grid with the best sentence label balanced accuracy (ties:
    better answer accuracy, then closer to 0.5 / 0.5), and its report."""
    best: tuple[tuple[float, ...], float, float, GroundednessReport] | None = None
    for min_e in grid:
        for max_c in grid:
            report = evaluate_groundedness(scores, min_entailment=min_e, max_contradiction=max_c, rule=rule)
            key = (round(report.label_balanced_accuracy, 10), round(report.answer_accuracy, 10),
                   -abs(min_e - 0.5) - abs(max_c - 0.5))  # fmt: skip
            if best is None or key > best[0]:
                best = (key, min_e, max_c, report)
    if best is None:
        raise ValueError("grid is empty")
    return best[1], best[2], best[3]
