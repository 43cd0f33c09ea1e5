"""ModelOptions: how a cross-encoder is loaded and run, defined once for the scorer, both rerankers and the CLI.

Every runtime option (backend, precision, device, threads, batch size, token budget, progress bars, logit cache) is
a field here with its default and its rule; the rerankers take them as keyword arguments (or one ``options=``
object) and the command line builds its flags from the fields. Options that change how the model is loaded
(``LOAD_FIELDS``) must agree with a model that is already loaded: a conflict is an error, never silently ignored.

Example:
    >>> options = ModelOptions(batch_size=16, max_length=256)
    >>> options.backend, options.batch_size
    ('auto', 16)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rerank.backends import BACKENDS
from rerank.cache import ScoreCache

__all__ = ["AUTO_EXPORT_ENV", "LOAD_FIELDS", "PRECISIONS", "ModelOptions", "auto_export_default", "check_loaded",
           "resolve_options"]  # fmt: skip

PRECISIONS = ("auto", "fp32", "bf16", "int8")
AUTO_EXPORT_ENV = "NLI_RERANK_AUTO_EXPORT"  # 0/false/no/off turns automatic export off by default


def auto_export_default() -> bool:
    """False when the environment variable NLI_RERANK_AUTO_EXPORT is 0, false, no or off; else True."""
    return os.environ.get(AUTO_EXPORT_ENV, "").strip().lower() not in {"0", "false", "no", "off"}


# Options that decide how the model is loaded; the rest only change how pairs are fed to it.
LOAD_FIELDS = ("backend", "precision", "device", "threads")


class ModelOptions(BaseModel):
    """Runtime options of a cross-encoder; immutable, validated when built.

    Attributes:
        backend: "auto" (the fastest installed backend that can run the model as given) or a name in
            ``rerank.backends.BACKENDS`` ("torch", "onnx", "openvino").
        precision: "auto" (bf16 where the CPU has bf16 units and bf16 keeps fp32's answers on the shipped check
            pairs, else fp32; never int8), or "fp32", "bf16", "int8" where the backend supports it.
        device: "cpu", "cuda", "cuda:1", ... (torch backend; the others run on the CPU).
        threads: Intra-op threads of the backend; None keeps the library default.
        batch_size: Pairs per forward pass.
        max_length: Token budget per pair; the premise is truncated to fit, never the hypothesis.
        show_progress: Show a progress bar when scoring takes more than one batch.
        cache: A shared rerank.cache.ScoreCache of logits, or None.
        auto_export: With backend "auto", export PyTorch weights once for OpenVINO/onnxruntime (into the export
            cache, verified) when no pre-converted graph exists; the default is on unless NLI_RERANK_AUTO_EXPORT=0.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    backend: str = Field("auto", description="auto, or one of " + ", ".join(BACKENDS))
    precision: str = Field("auto", description="auto (bf16 where native and checked, else fp32), fp32, bf16 or int8")
    device: str = Field("cpu", description="cpu, cuda, cuda:N (torch backend)")
    threads: int | None = Field(None, ge=1, strict=True, description="backend intra-op threads (default: library's)")
    batch_size: int = Field(32, ge=1, strict=True, description="pairs per forward pass")
    max_length: int = Field(512, ge=2, strict=True, description="token budget per pair; only the premise is cut")
    show_progress: bool = Field(True, strict=True, description="progress bars while scoring")
    cache: ScoreCache | None = Field(None, description="shared in-memory logit cache")
    auto_export: bool = Field(
        default_factory=auto_export_default,
        strict=True,
        description="export PyTorch weights once for OpenVINO/onnxruntime when backend is auto (env "
        f"{AUTO_EXPORT_ENV}=0 turns it off)",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value != "auto" and value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; choose one of {['auto', *BACKENDS]}")
        return value

    @field_validator("precision")
    @classmethod
    def _known_precision(cls, value: str) -> str:
        if value not in PRECISIONS:
            raise ValueError(f"unknown precision {value!r}; choose one of {list(PRECISIONS)}")
        return value

    @field_validator("device")
    @classmethod
    def _device_name(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError(f"device must be a name such as 'cpu' or 'cuda:0', got {value!r}")
        return value


def _one_line(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "options"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown option; valid options are {sorted(ModelOptions.model_fields)}"
        parts.append(f"{field}={item.get('input')!r}: {message}")
    return "invalid model option " + "; ".join(parts)


def resolve_options(options: ModelOptions | None = None, overrides: Mapping[str, Any] | None = None) -> ModelOptions:
    """``options`` (default ModelOptions()) with ``overrides`` applied and validated.

    Raises:
        TypeError: ``options`` is not a ModelOptions.
        ValueError: An unknown option name or an invalid value, in one line naming the option.
    """
    if options is not None and not isinstance(options, ModelOptions):
        raise TypeError(f"options must be a rerank.ModelOptions, got {type(options).__name__}")
    base = options.model_dump(exclude_unset=True) if options is not None else {}
    try:
        return ModelOptions(**{**base, **dict(overrides or {})})
    except ValidationError as error:
        raise ValueError(_one_line(error)) from None


def check_loaded(options: ModelOptions, loaded: Any) -> None:
    """Raise ValueError when options set explicitly contradict how ``loaded`` (a LoadedModel) was loaded.

    Only fields the caller set are compared; ``backend="auto"`` and ``precision="auto"`` agree with any value.
    """
    actual = {
        "backend": loaded.runner.backend,
        "precision": loaded.runner.precision,
        "device": loaded.device,
        "threads": loaded.threads,
    }
    conflicts = []
    for name in LOAD_FIELDS:
        wanted = getattr(options, name)
        if name not in options.model_fields_set or (name in {"backend", "precision"} and wanted == "auto"):
            continue
        if wanted != actual[name]:
            conflicts.append(f"{name}={wanted!r} (the model runs with {name}={actual[name]!r})")
    if conflicts:
        raise ValueError(
            f"model {loaded.source!r} is already loaded, so {', '.join(conflicts)} cannot apply; load it again with "
            "rerank.load_model(..., " + ", ".join(c.split(" ")[0] for c in conflicts) + ") or drop the option"
        )
