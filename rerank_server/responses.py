"""Turning request bodies into records and results into response bodies (no model, no HTTP here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from rerank.fusion import order_column
from rerank.records import Candidate, Document, RankedResult, RerankResult, check_text, has_visible_text
from rerank_server.batching import Usage
from rerank_server.errors import ApiError
from rerank_server.schemas import DocumentIn
from rerank_server.service import Service

__all__ = ["candidates_from", "check_passage", "check_query", "filtered_by", "rerank_response", "retrieved_rows"]


def _api_error(status: int, message: str, field: str) -> ApiError:
    return ApiError(status, message, field)


def check_query(text: str, limit: int, field: str) -> str:
    """The query (or claim) when it has visible text, fits ``limit`` characters and is valid Unicode."""
    if not has_visible_text(text):
        raise _api_error(422, f"{field} is empty; send a non-empty question or claim", field)
    if len(text) > limit:
        raise _api_error(422, f"{field} is {len(text)} characters; the limit is {limit} (max_query_chars)", field)
    try:
        return check_text(field, text)
    except ValueError as error:
        raise _api_error(422, str(error), field) from None


def check_passage(text: str, limit: int, field: str) -> str:
    """A text to read as a premise: visible text within ``limit`` characters, valid Unicode."""
    if len(text) > limit:
        raise _api_error(422, f"{field} is {len(text)} characters; the limit is {limit} (max_document_chars)", field)
    if not has_visible_text(text):
        raise _api_error(422, f"{field} has no text; send passages with visible text", field)
    try:
        return check_text(field, text)
    except ValueError as error:
        raise _api_error(422, str(error), field) from None


def candidates_from(
    items: Sequence[str | DocumentIn], limit: int, field: str, client_ids: bool = False
) -> list[Candidate]:
    """One candidate per document, in request order, retriever rank = position + 1; id = its position (the
    client's id stays in the response), or with ``client_ids`` the client's id where given. Each document needs
    visible text (or a title) within ``limit`` characters."""
    candidates = []
    for position, item in enumerate(items):
        where = f"{field}[{position}]"
        text, title, metadata = (item, None, {}) if isinstance(item, str) else (item.text, item.title, item.metadata)
        size = len(text) + len(title or "")
        if size > limit:
            raise _api_error(422, f"{where} is {size} characters; the limit is {limit} (max_document_chars)", where)
        if not has_visible_text(text) and not (title and has_visible_text(title)):
            raise _api_error(422, f"{where} has no text; send passages with visible text", where)
        try:
            given_id = item.id if client_ids and isinstance(item, DocumentIn) else None
            document = Document(id=given_id or str(position), text=text, title=title, metadata=metadata)
        except ValidationError as error:
            message = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise _api_error(422, f"{where}: {message}", where) from None
        candidates.append(Candidate(document=document, retriever="input", retriever_rank=position + 1))
    return candidates


def filtered_by(result: RankedResult, thresholds: dict[str, float]) -> list[str]:
    """The thresholds a result fails, in words (e.g. "entailment 0.120 < min_entailment 0.5")."""
    reasons = []
    if isinstance(result, RerankResult):
        scores = result.scores
        if "min_entailment" in thresholds and scores.entailment < thresholds["min_entailment"]:
            reasons.append(f"entailment {scores.entailment:.3f} < min_entailment {thresholds['min_entailment']}")
        if "max_contradiction" in thresholds and scores.contradiction > thresholds["max_contradiction"]:
            reasons.append(
                f"contradiction {scores.contradiction:.3f} > max_contradiction {thresholds['max_contradiction']}"
            )
    elif "min_score" in thresholds and result.score is not None and result.score < thresholds["min_score"]:
        reasons.append(f"score {result.score:.3f} < min_score {thresholds['min_score']}")
    return reasons


def _document_body(document: Document, given: str | DocumentIn | None) -> dict[str, Any]:
    if isinstance(given, DocumentIn):
        return given.model_dump(exclude_none=True)
    if isinstance(given, str):
        return {"text": given}
    body: dict[str, Any] = {"id": document.id, "text": document.text}
    if document.title:
        body["title"] = document.title
    return {**document.metadata, **body}


def result_row(
    service: Service, result: RankedResult, index: int, client: str | DocumentIn | None, with_document: bool,
    thresholds: dict[str, float],
) -> dict[str, Any]:  # fmt: skip
    """One result of /rerank or /search."""
    reranker = service.reranker
    row: dict[str, Any] = {"index": index, "kept": result.kept}
    client_id = client.id if isinstance(client, DocumentIn) else None
    row["id"] = client_id if client is not None else result.document.id
    if isinstance(result, RerankResult):
        scores = result.scores
        value = order_column(np.array([[scores.entailment, scores.neutral, scores.contradiction]]),
                             getattr(reranker, "order", "entailment"))[0]  # fmt: skip
        row["relevance_score"] = min(1.0, max(0.0, float(value)))
        if getattr(reranker, "fusion_weight", None) is not None:
            row["score"] = result.score
        row["nli"] = scores.model_dump()
        if result.evidence is not None:
            evidence = result.evidence
            row["evidence"] = {"text": evidence.sentence, "span": evidence.span, "sentence": evidence.index,
                               "entailment": evidence.entailment}  # fmt: skip
    else:
        row["relevance_score"] = float(result.score if result.score is not None else 0.0)
    if not result.kept:
        row["filtered_by"] = filtered_by(result, thresholds)
    candidate = result.candidate
    if candidate.retriever != "input":
        row["retriever_rank"], row["retriever_score"] = candidate.retriever_rank, candidate.retriever_score
    if with_document:
        row["document"] = _document_body(result.document, client)
    return row


def rerank_response(
    service: Service, results: Sequence[RankedResult], usage: Usage, thresholds: dict[str, float],
    documents: Sequence[str | DocumentIn] | None, return_documents: bool, include_filtered: bool,
) -> dict[str, Any]:  # fmt: skip
    """The /rerank body: results in the reranker's order (kept ones cut to top_n, then filtered ones if asked)."""
    rows = []
    for result in results:
        if not result.kept and not include_filtered:
            continue
        if documents is not None:
            index = int(result.document.id)
            client: str | DocumentIn | None = documents[index]
        else:
            index, client = result.candidate.retriever_rank - 1, None
        rows.append(result_row(service, result, index, client, return_documents, thresholds))
    return {"model": service.model_name, "results": rows, "usage": {"pairs": usage.pairs, "tokens": usage.tokens}}


def retrieved_rows(candidates: Sequence[Candidate], with_documents: bool) -> list[dict[str, Any]]:
    """The retriever's own order, for /search (and the explorer page's left column)."""
    rows = []
    for candidate in sorted(candidates, key=lambda c: c.retriever_rank):
        row: dict[str, Any] = {"rank": candidate.retriever_rank, "id": candidate.document.id,
                               "score": candidate.retriever_score}  # fmt: skip
        if with_documents:
            row["document"] = _document_body(candidate.document, None)
        rows.append(row)
    return rows
