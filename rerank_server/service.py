"""What the server serves: the reranker (scoring through one BatchingRunner), the optional retriever, readiness.

``Service.load`` loads the model, wraps its runner for cross-request batching, builds the reranker, reads the index
and warms the model up; until it returns, ``ready`` is False and /healthz answers 503. Every call here runs in a
worker thread of the server, never on the event loop.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rerank.backends import LoadedModel
from rerank.nli_reranker import DEFAULT_DIRECTION, DEFAULT_FUSION_WEIGHT, DEFAULT_MAX_SEGMENTS, NLIReranker
from rerank.options import ModelOptions, resolve_options
from rerank.records import Candidate, Document, RankedResult
from rerank.relevance_reranker import RelevanceReranker
from rerank.segmenter import DEFAULT_GRANULARITY, DEFAULT_TITLE, DEFAULT_WINDOW_TOKENS
from rerank_server.batching import BatchingRunner, Usage
from rerank_server.metrics import ServerMetrics
from rerank_server.settings import ServerSettings

__all__ = ["RerankerSpec", "Service"]

logger = logging.getLogger(__name__)

# Pairs one request thread hands the batching worker per call (the reranker's own batch size); the worker re-cuts
# them into model batches of max_batch_pairs rows.
REQUEST_CHUNK_PAIRS = 512
WARM_UP = ("Aspirin lowers the risk of a heart attack.", ["A daily aspirin cut heart attacks by a third in the trial."])


@dataclass(frozen=True)
class RerankerSpec:
    """How to build the served reranker: the model, the NLIReranker settings and the shared ModelOptions.

    ``model`` may be a LoadedModel already in memory (tests share one); its runner is wrapped, never changed.
    """

    model: str | LoadedModel
    options: ModelOptions = field(default_factory=resolve_options)
    granularity: str = DEFAULT_GRANULARITY
    title: str = DEFAULT_TITLE
    window_tokens: int = DEFAULT_WINDOW_TOKENS
    aggregate: str = "max"
    order: str = "entailment"
    language: str | None = None
    direction: str = DEFAULT_DIRECTION
    max_segments: int | None = DEFAULT_MAX_SEGMENTS
    fusion_weight: float | None = DEFAULT_FUSION_WEIGHT
    template: str | None = None
    labels: Sequence[str] | None = None
    calibration: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.source if isinstance(self.model, LoadedModel) else self.model


class Service:
    """The loaded model, reranker and retriever behind the HTTP routes.

    Args:
        spec: The reranker to serve.
        settings: Limits and batching settings.
        metrics: Where the batching worker records.
        on_failure: Called (from the loading thread) when ``load`` fails, e.g. to stop the HTTP server.
    """

    def __init__(
        self,
        spec: RerankerSpec,
        settings: ServerSettings,
        metrics: ServerMetrics | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ):
        self.spec, self.settings = spec, settings
        self.metrics = metrics or ServerMetrics()
        self.on_failure = on_failure
        self.reranker: NLIReranker | RelevanceReranker | None = None
        self.retriever: Any = None
        self.runner: BatchingRunner | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._done = threading.Event()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def model_name(self) -> str:
        return self.spec.name

    @property
    def is_nli(self) -> bool:
        return isinstance(self.reranker, NLIReranker)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until loading has finished (ready or failed); True when ready."""
        self._done.wait(timeout_s)
        return self.ready

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="rerank-load", daemon=True)
        thread.start()
        return thread

    def load(self) -> None:
        """Load, wrap, build, read the index, warm up; sets ``ready`` or ``error`` (and calls ``on_failure``)."""
        try:
            self._load()
        except BaseException as error:  # reported on /healthz and by the CLI, not raised into a thread
            logger.error("the server could not start: %s", error)
            self.error = error
            if self.on_failure is not None:
                self.on_failure(error)
        finally:
            self._done.set()

    def _load(self) -> None:
        from rerank.loading import load_model

        spec, settings = self.spec, self.settings
        options = spec.options
        if isinstance(spec.model, LoadedModel):
            loaded = spec.model
        else:
            loaded = load_model(
                spec.model, backend=options.backend, precision=options.precision, device=options.device,
                threads=options.threads, auto_export=options.auto_export, show_progress=False,
            )  # fmt: skip
        self.runner = BatchingRunner(
            loaded.runner, pad_token_id=loaded.tokenizer.pad_token_id or 0,
            batch_tokens=settings.model_batch_tokens(loaded.device), max_batch_pairs=settings.max_batch_pairs,
            lookahead_pairs=settings.lookahead_pairs, max_wait_s=settings.max_wait_ms / 1000,
            max_queued_pairs=settings.max_queued_pairs, batching=settings.batching, metrics=self.metrics,
        )  # fmt: skip
        model = dataclasses.replace(loaded, runner=self.runner)
        request_options = options.model_copy(update={"batch_size": REQUEST_CHUNK_PAIRS, "show_progress": False})
        reranker: NLIReranker | RelevanceReranker
        if model.num_logits == 1:
            reranker = RelevanceReranker(model, calibration=spec.calibration, options=request_options)
        else:
            reranker = NLIReranker(
                model, granularity=spec.granularity, title=spec.title, fusion_weight=spec.fusion_weight,
                hypothesis_template=spec.template, labels=spec.labels, calibration=spec.calibration,
                options=request_options, window_tokens=spec.window_tokens, aggregate=spec.aggregate,
                order=spec.order, language=spec.language, direction=spec.direction, max_segments=spec.max_segments,
            )  # fmt: skip
        from rerank.contract import check_thresholds

        check_thresholds(reranker.thresholds, spec.thresholds, f"model {spec.name!r}")
        if settings.index is not None:
            from retrievers import load_retriever

            self.retriever = load_retriever(settings.index, show_progress=False)
        self.runner.start()
        self.reranker = reranker
        query, documents = WARM_UP
        with self.runner.track():
            reranker.rerank(query, documents)
        self._ready.set()
        self.metrics.ready.set(1)
        logger.info("model %s loaded and warmed up (%s %s)", spec.name, loaded.runner.backend, loaded.runner.precision)

    def batching_settings(self) -> dict[str, Any]:
        """How the batching worker cuts model batches (what /info reports)."""
        runner = self.runner
        if runner is None:
            return {}
        return {
            "enabled": runner.batching, "batch_tokens": runner.batch_tokens, "max_batch_pairs": runner.max_batch_pairs,
            "lookahead_pairs": runner.lookahead_pairs, "min_row_fill": runner.min_row_fill,
            "max_wait_ms": runner.max_wait_s * 1000,
        }  # fmt: skip

    def close(self) -> None:
        """Finish the queued work and stop the batching worker."""
        self._ready.clear()
        self.metrics.ready.set(0)
        if self.runner is not None:
            self.runner.stop()

    # -- calls (run in worker threads) --------------------------------------------------------------------------
    def thresholds(self, given: dict[str, float | None]) -> dict[str, float]:
        """The server's thresholds with the request's on top, checked against what the reranker accepts."""
        from rerank.contract import check_thresholds

        assert self.reranker is not None
        merged = {**self.spec.thresholds, **{k: v for k, v in given.items() if v is not None}}
        return check_thresholds(self.reranker.thresholds, merged, f"model {self.model_name!r}")

    def rerank(
        self, query: str, candidates: Sequence[Candidate], top_n: int | None, thresholds: dict[str, float]
    ) -> tuple[list[RankedResult], Usage]:
        reranker, runner = self._parts()
        with runner.track(self.settings.request_timeout_s) as usage:
            results = list(reranker.rerank(query, candidates, top_k=top_n, **thresholds))
        return results, usage

    def retrieve(self, query: str, k: int) -> list[Candidate]:
        if self.retriever is None:
            raise LookupError("this server has no index; start it with --index DIR to use /search")
        return list(self.retriever.retrieve(query, k))

    def verify(self, claim: str, evidence: list[Document], thresholds: dict[str, float | None]) -> tuple[Any, Usage]:
        from rerank.verify import verify

        reranker, runner = self._parts()
        with runner.track(self.settings.request_timeout_s) as usage:
            verdict = verify(claim, evidence, reranker, **thresholds)  # type: ignore[arg-type]
        return verdict, usage

    def classify(self, texts: list[str], labels: list[str], options: dict[str, Any]) -> tuple[list[Any], Usage]:
        from rerank.classify import classify

        reranker, runner = self._parts()
        with runner.track(self.settings.request_timeout_s) as usage:
            results = classify(texts, labels, reranker, **options)  # type: ignore[arg-type]
        return results, usage

    def rank_answers(
        self, question: str, answers: list[str], context: str | None, options: dict[str, Any]
    ) -> tuple[list[Any], Usage]:
        from rerank.answers import rank_answers

        reranker, runner = self._parts()
        with runner.track(self.settings.request_timeout_s) as usage:
            ranked = rank_answers(question, answers, context, reranker, **options)  # type: ignore[arg-type]
        return ranked, usage

    def _parts(self) -> tuple[NLIReranker | RelevanceReranker, BatchingRunner]:
        if self.reranker is None or self.runner is None:
            raise RuntimeError("the model is not loaded yet")
        return self.reranker, self.runner
