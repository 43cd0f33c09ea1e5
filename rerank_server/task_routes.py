"""POST /classify and /answers: the zero-shot classification and answer-ranking task calls over HTTP.

They score through the same reranker and batching worker as /rerank; inputs are checked against the same limits
(texts or answers per request: max_documents; characters: max_document_chars and max_query_chars) first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI

from rerank_server.errors import ERRORS, ApiError
from rerank_server.responses import check_passage, check_query
from rerank_server.schemas import AnswersRequest, ClassifyRequest
from rerank_server.service import Service

__all__ = ["add_task_routes"]


def add_task_routes(app: FastAPI, service: Service, authorized: Callable, ready: Callable, call: Callable) -> None:
    """Add /classify and /answers to ``app`` (same authentication, readiness and error handling as /rerank)."""
    settings = service.settings

    def count(items: list[str], field: str, what: str) -> None:
        if not items:
            raise ApiError(422, f"{field} is empty; send at least one {what}", field)
        if len(items) > settings.max_documents:
            raise ApiError(
                422, f"{len(items)} {what}s sent; the limit is {settings.max_documents} (max_documents)", field
            )

    def nli_only(live: Service, route: str) -> None:
        if not live.is_nli:
            raise ApiError(400, f"{route} needs an NLI model; {live.model_name!r} is a relevance model")

    @app.post("/classify", dependencies=[Depends(authorized)], responses=ERRORS)
    async def classify(body: ClassifyRequest) -> dict[str, Any]:
        """Zero-shot classification: each text against every label's hypothesis, labels sorted best first."""
        live = ready()
        nli_only(live, "/classify")
        count(body.texts, "texts", "text")
        count(body.labels, "labels", "label")
        texts = [check_passage(text, settings.max_document_chars, f"texts[{i}]") for i, text in enumerate(body.texts)]
        labels = [check_query(label, settings.max_query_chars, f"labels[{i}]") for i, label in enumerate(body.labels)]
        pairs = len(texts) * len(labels)
        if pairs > settings.max_queued_pairs:
            raise ApiError(
                422, f"{len(texts)} texts x {len(labels)} labels = {pairs} pairs; the limit is "
                f"{settings.max_queued_pairs} (max_queued_pairs)", "labels",
            )  # fmt: skip
        options: dict[str, Any] = {"multi_label": body.multi_label}
        if body.template is not None:
            options["template"] = body.template
        results, usage = await call(live.classify, texts, labels, options)
        return {"model": live.model_name, "results": [r.model_dump() for r in results],
                "usage": {"pairs": usage.pairs, "tokens": usage.tokens}}  # fmt: skip

    @app.post("/answers", dependencies=[Depends(authorized)], responses=ERRORS)
    async def answers(body: AnswersRequest) -> dict[str, Any]:
        """Rank candidate answers to a question, best first, with the probabilities and the evidence segment."""
        live = ready()
        nli_only(live, "/answers")
        question = check_query(body.question, settings.max_query_chars, "question")
        count(body.answers, "answers", "answer")
        limit = settings.max_document_chars
        answers = [check_passage(answer, limit, f"answers[{i}]") for i, answer in enumerate(body.answers)]
        context = None if body.context is None else check_passage(body.context, limit, "context")
        options: dict[str, Any] = {}
        if body.answer_template is not None:
            options["answer_template"] = body.answer_template
        if body.question_template is not None:
            options["question_template"] = body.question_template
        ranked, usage = await call(live.rank_answers, question, answers, context, options)
        return {"model": live.model_name, "answers": [r.model_dump() for r in ranked],
                "usage": {"pairs": usage.pairs, "tokens": usage.tokens}}  # fmt: skip
