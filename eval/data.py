"""Load evaluation data (BEIR folders, TREC run/qrels files, NLI TSV sets, SciFact claims) and write TREC runs.

Qrels and runs are plain nested dicts, ``{query_id: {doc_id: value}}`` (the convention of ranx, ir_measures and
pytrec_eval): relevance grades (int) for qrels, scores (float) for runs.

Example:
    >>> data = load_beir("../shared/data/retrieval/scifact", split="test")  # doctest: +SKIP
    >>> len(data.queries), len(data.qrels)  # doctest: +SKIP
    (1109, 300)
"""

from __future__ import annotations

import logging
import math
import numbers
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rerank.atomic import write_text_atomic
from rerank.corpus import iter_jsonl, iter_lines, load_corpus
from rerank.nli_tsv import NLI_LABELS, read_nli_tsv
from rerank.records import Document, check_text

__all__ = [
    "FACTCHECK_LABELS",
    "NLI_LABELS",
    "BeirDataset",
    "Claim",
    "NLIExamples",
    "load_beir",
    "load_nli_tsv",
    "load_qrels",
    "load_queries",
    "load_scifact_claims",
    "load_scifact_sentences",
    "load_trec_run",
    "sample_query_ids",
    "write_trec_run",
]

FACTCHECK_LABELS = ("SUPPORT", "CONTRADICT", "NOINFO")

logger = logging.getLogger(__name__)

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR-layout dataset: documents, query texts by id, and the qrels of one split."""

    corpus: list[Document]
    queries: dict[str, str]
    qrels: Qrels
    name: str = ""
    split: str = "test"

    def query_ids(self) -> list[str]:
        """Ids of the queries that have qrels and a text, in qrels order."""
        return [qid for qid in self.qrels if qid in self.queries]


def load_queries(path: str | Path) -> dict[str, str]:
    """Query texts by id from a BEIR queries.jsonl (``{"_id", "text"}`` per line)."""
    path = _require_file(Path(path), "queries file")
    queries = {}
    for line_number, record in iter_jsonl(path, "queries file"):
        if not isinstance(record, dict) or "_id" not in record or not isinstance(record.get("text"), str):
            got = sorted(record) if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"{path}:{line_number}: expected fields '_id' and 'text', got {got}")
        if (
            isinstance(record["_id"], bool)
            or not isinstance(record["_id"], (str, int))
            or not str(record["_id"]).strip()
        ):
            raise ValueError(
                f"{path}:{line_number}: the query id must be a non-empty string or integer, got {record['_id']!r}"
            )
        queries[str(record["_id"])] = record["text"]
    return queries


def load_qrels(path: str | Path) -> Qrels:
    """Relevance judgements from a BEIR qrels TSV (``query-id corpus-id score`` with a header) or a TREC qrels file
    (``query-id 0 doc-id grade``, whitespace-separated, no header)."""
    path = _require_file(Path(path), "qrels file")
    qrels: Qrels = {}
    for line_number, line in iter_lines(path):
        fields = line.split()
        if not fields or (line_number == 1 and fields[0].lower() in {"query-id", "query_id", "qid"}):
            continue
        if len(fields) == 3:
            qid, doc_id, grade = fields
        elif len(fields) == 4:
            qid, _, doc_id, grade = fields
        else:
            raise ValueError(f"{path}:{line_number}: expected 3 (BEIR) or 4 (TREC) fields, got {len(fields)}")
        try:
            qrels.setdefault(qid, {})[doc_id] = int(grade)
        except ValueError as error:
            raise ValueError(f"{path}:{line_number}: relevance grade must be an integer, got {grade!r}") from error
    return qrels


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Read corpus.jsonl[.gz], queries.jsonl and qrels/<split>.tsv from a BEIR folder.

    The corpus goes through the project's one document reader (``rerank.corpus``): the same ids as
    ``retrievers.load_corpus``, duplicates rejected, extra fields kept in ``metadata``. A warning names qrels
    queries without a text (left out of ``query_ids()``) and judged documents missing from the corpus.

    Raises:
        FileNotFoundError: A missing folder or file, naming it.
        ValueError: A malformed line, naming file and line.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder} (expected corpus.jsonl, queries.jsonl, qrels/)")
    corpus_path = next((folder / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (folder / n).is_file()), None)
    if corpus_path is None:
        raise FileNotFoundError(f"no corpus.jsonl or corpus.jsonl.gz in {folder}")
    corpus = load_corpus(corpus_path)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"no qrels for split {split!r} in {folder}; available splits: {available}")
    dataset = BeirDataset(corpus, load_queries(folder / "queries.jsonl"), load_qrels(qrels_path), folder.name, split)
    _warn_about_qrels(dataset)
    return dataset


def _warn_about_qrels(dataset: BeirDataset) -> None:
    textless = [qid for qid in dataset.qrels if qid not in dataset.queries]
    if textless:
        logger.warning(
            "%s %s: %d of %d judged queries have no text in queries.jsonl and are left out (first: %s)",
            dataset.name, dataset.split, len(textless), len(dataset.qrels), textless[:3],
        )  # fmt: skip
    ids = {document.id for document in dataset.corpus}
    missing = sorted({doc for judged in dataset.qrels.values() for doc in judged if doc not in ids})
    if missing:
        logger.warning(
            "%s %s: %d judged documents are not in the corpus and can never be retrieved (first: %s)",
            dataset.name, dataset.split, len(missing), missing[:3],
        )  # fmt: skip


def load_trec_run(path: str | Path) -> Run:
    """A TREC run file (``qid Q0 docid rank score tag``) as ``{qid: {docid: score}}``.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A line without 6 fields, a score that is not a finite number, or bytes that are not UTF-8,
            naming file and line.
    """
    path = _require_file(Path(path), "run file")
    run: Run = {}
    for line_number, line in iter_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise ValueError(
                f"{path}:{line_number}: expected 6 fields (qid Q0 docid rank score tag), got {len(fields)}"
            )
        try:
            score = float(fields[4])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise ValueError(f"{path}:{line_number}: score must be a finite number, got {fields[4]!r}")
        run.setdefault(fields[0], {})[fields[2]] = score
    return run


def write_trec_run(run: Mapping[str, Mapping[str, float]], path: str | Path, tag: str = "nli-rerank") -> Path:
    """Write ``{qid: {docid: score}}`` as a TREC run, each query sorted by score (ties: doc id descending).

    Everything is checked before the file is touched, and the file is replaced atomically. A query without
    documents has no line, so it is absent from the run read back.

    Raises:
        ValueError: A tag or id that is empty, holds whitespace (the format is whitespace-separated) or a lone
            surrogate (the file is UTF-8), or a non-finite score.
    """
    if not isinstance(tag, str) or not tag or any(c.isspace() for c in tag):
        raise ValueError(f"tag must be a non-empty string without whitespace, got {tag!r}")
    check_text("tag", tag)
    lines = []
    for qid, scores in run.items():
        for doc_id, score in scores.items():  # checked before sorting, which needs comparable ids and scores
            for name, value in (("query id", qid), ("document id", doc_id)):
                if not isinstance(value, str) or not value or any(c.isspace() for c in value):
                    raise ValueError(
                        f"{name} {value!r} cannot be written to a TREC run: ids must be non-empty strings without "
                        "whitespace"
                    )
                check_text(f"{name} {value!r}", value)
            if isinstance(score, bool) or not isinstance(score, numbers.Real) or not math.isfinite(_as_float(score)):
                raise ValueError(f"query {qid!r}, document {doc_id!r}: score must be finite, got {score!r}")
        ranked = sorted(scores.items(), key=lambda item: (float(item[1]), item[0]), reverse=True)
        lines += [
            f"{qid} Q0 {doc_id} {rank} {float(score)!r} {tag}\n" for rank, (doc_id, score) in enumerate(ranked, 1)
        ]
    write_text_atomic(path, "".join(lines))
    return Path(path)


def _as_float(score: numbers.Real) -> float:
    """The score as a float; infinity for an integer too large for one (so it is refused as non-finite)."""
    try:
        return float(score)
    except OverflowError:
        return math.inf


@dataclass(frozen=True)
class NLIExamples:
    """Parallel lists of premises, hypotheses and gold labels (entailment | neutral | contradiction)."""

    premises: list[str]
    hypotheses: list[str]
    labels: list[str]
    name: str = ""

    def __len__(self) -> int:
        return len(self.labels)


def load_nli_tsv(path: str | Path, limit: int | None = None) -> NLIExamples:
    """An NLI TSV with header ``premise<TAB>hypothesis<TAB>label`` (read by ``rerank.nli_tsv``, the project's one
    reader of pair files); "not_entailment" (RTE) is read as neutral."""
    pairs = read_nli_tsv(path, labels=True, limit=limit)
    return NLIExamples(pairs.premises, pairs.hypotheses, pairs.labels or [], pairs.name)


@dataclass(frozen=True)
class Claim:
    """A SciFact claim with its cited abstracts and gold sentence evidence.

    Attributes:
        evidence: doc_id -> (label SUPPORT | CONTRADICT, sorted sentence indices); empty for NOINFO claims.
    """

    id: str
    text: str
    cited_doc_ids: list[str]
    label: str
    evidence: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)


def load_scifact_claims(path: str | Path) -> list[Claim]:
    """SciFact claims JSONL (claims_dev.jsonl / claims_train.jsonl of ../shared/data/factcheck/scifact)."""
    path = _require_file(Path(path), "claims file")
    claims = []
    for line_number, record in iter_jsonl(path, "claims file"):
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
        label = record.get("label")
        if label not in FACTCHECK_LABELS:
            raise ValueError(f"{path}:{line_number}: label must be one of {FACTCHECK_LABELS}, got {label!r}")
        evidence: dict[str, tuple[str, set[int]]] = {}
        for item in record.get("evidence", []):
            doc_id = str(item["doc_id"])
            previous = evidence.get(doc_id, (item["label"], set()))
            evidence[doc_id] = (previous[0], previous[1] | set(item["sentences"]))
        claims.append(
            Claim(
                id=str(record["claim_id"]),
                text=record["claim"],
                cited_doc_ids=[str(d) for d in record.get("cited_doc_ids", [])],
                label=label,
                evidence={d: (lab, tuple(sorted(s))) for d, (lab, s) in evidence.items()},
            )
        )
    return claims


def load_scifact_sentences(path: str | Path) -> dict[str, Document]:
    """SciFact abstracts with their sentence lists (``{"doc_id", "title", "sentences"}`` per line, read by the
    project's one document reader), as Documents whose metadata["sentences"] holds the split and whose text is the
    sentences joined by spaces."""
    documents = load_corpus(_require_file(Path(path), "SciFact sentence corpus"))
    for document in documents:
        if not isinstance(document.metadata.get("sentences"), list):
            raise ValueError(f"{path}: document {document.id!r} has no 'sentences' list")
    return {document.id: document for document in documents}


def sample_query_ids(query_ids: list[str] | set[str], n: int | None, seed: int = 0) -> list[str]:
    """A reproducible subsample of ``n`` query ids (all of them when n is None or too large), sorted.

    The ids are sorted before sampling, so the subsample depends only on the set of ids, ``n`` and ``seed``.
    """
    ids = sorted(set(query_ids))
    if n is None or n >= len(ids):
        return ids
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"sample size must be a positive int or None, got {n!r}")
    return sorted(random.Random(seed).sample(ids, n))
