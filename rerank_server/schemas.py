"""Request and response bodies of the HTTP API (they are also the OpenAPI schema at /openapi.json).

/rerank is a superset of the common rerank shape (Cohere v2, Jina): ``{model?, query, documents, top_n?,
return_documents?}`` in, ``{model, results: [{index, relevance_score, document?}], usage}`` out, with NLI fields
added to each result. Unknown top-level fields are refused; a document object's extra fields are its metadata.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

__all__ = [
    "DocumentIn",
    "ErrorBody",
    "EvidenceOut",
    "NLIOut",
    "RerankRequest",
    "RerankResponse",
    "ResultOut",
    "SearchRequest",
    "SearchResponse",
    "UsageOut",
    "VerifyRequest",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentIn(BaseModel):
    """A document as an object: ``text`` (required), optional ``id`` and ``title``; any other field is metadata."""

    model_config = ConfigDict(extra="allow")

    text: StrictStr
    id: StrictStr | None = None
    title: StrictStr | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class _Thresholds(_Request):
    min_entailment: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False, description="NLI: keep entailment >= this"
    )
    max_contradiction: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False, description="3-label NLI: keep contradiction <= this"
    )
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False, description="relevance models: keep score >= this"
    )

    def given_thresholds(self) -> dict[str, float | None]:
        return {"min_entailment": self.min_entailment, "max_contradiction": self.max_contradiction,
                "min_score": self.min_score}  # fmt: skip


class RerankRequest(_Thresholds):
    """POST /rerank."""

    model: StrictStr | None = Field(None, description="must name the served model when given")
    query: StrictStr = Field(description="the query or claim (the hypothesis)")
    documents: list[StrictStr | DocumentIn] = Field(description="strings or {text, id?, title?, ...} objects")
    top_n: int | None = Field(None, ge=1, strict=True, description="kept results returned (default: all)")
    return_documents: StrictBool = Field(False, description="include each result's document")
    include_filtered: StrictBool = Field(
        False, description="also return results a threshold filtered out (kept=false, with the reason), after top_n"
    )


class SearchRequest(_Thresholds):
    """POST /search: retrieve from the server's index, then rerank."""

    query: StrictStr
    k: int = Field(30, ge=1, strict=True, description="candidates retrieved")
    top_n: int | None = Field(10, ge=1, strict=True, description="kept results returned")
    return_documents: StrictBool = True
    include_filtered: StrictBool = False


class VerifyRequest(_Request):
    """POST /verify: is the claim supported, refuted, or not decided by the evidence?"""

    claim: StrictStr
    evidence: list[StrictStr | DocumentIn]
    min_entailment: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    max_contradiction: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)


class NLIOut(BaseModel):
    entailment: float
    neutral: float
    contradiction: float


class EvidenceOut(BaseModel):
    text: str = Field(description="the segment that best entails the query")
    span: tuple[int, int] | None = Field(description="[start, end) of the segment in the document's text")
    sentence: int | None = Field(description="index of its first sentence in the document")
    entailment: float


class ResultOut(BaseModel):
    index: int = Field(description="position of the document in the request (or in the retrieved list)")
    id: str | None = None
    relevance_score: float = Field(
        description="in [0, 1]: the probability the order is based on (entailment, or entailment + contradiction "
        "with order=decisiveness; a relevance model's sigmoid), never a fused value"
    )
    score: float | None = Field(None, description="the fused ordering value, when fusion with the retriever is on")
    nli: NLIOut | None = None
    kept: bool = True
    filtered_by: list[str] | None = Field(None, description="why a threshold filtered it out")
    evidence: EvidenceOut | None = None
    retriever_rank: int | None = None
    retriever_score: float | None = None
    document: dict[str, Any] | None = None


class UsageOut(BaseModel):
    pairs: int = Field(description="(premise, hypothesis) pairs scored")
    tokens: int = Field(description="tokens scored, padding excluded")


class RerankResponse(BaseModel):
    model: str
    results: list[ResultOut]
    usage: UsageOut


class RetrievedOut(BaseModel):
    rank: int
    id: str
    score: float | None
    document: dict[str, Any] | None = None


class SearchResponse(RerankResponse):
    query: str
    retrieved: list[RetrievedOut] = Field(description="the retriever's order, before reranking")


class ErrorBody(BaseModel):
    detail: str
    errors: list[dict[str, str]] = Field(default_factory=list)


class ClassifyRequest(_Request):
    """POST /classify: zero-shot classification of texts into the given labels."""

    texts: list[StrictStr] = Field(description="texts to classify (each a premise)")
    labels: list[StrictStr] = Field(description="candidate labels")
    template: StrictStr | None = Field(
        None, description="hypothesis template with one {} (default 'This example is {}.')"
    )
    multi_label: StrictBool = Field(False, description="score each label on its own instead of a softmax across labels")


class AnswersRequest(_Request):
    """POST /answers: rank candidate answers to a question, from a context or from the answers themselves."""

    question: StrictStr
    answers: list[StrictStr]
    context: StrictStr | None = Field(None, description="the text the answers should be read from")
    answer_template: StrictStr | None = Field(None, description="with a context: fields {question} and {answer}")
    question_template: StrictStr | None = Field(None, description="without a context: field {question}")
