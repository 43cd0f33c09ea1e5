"""The calibration file: what was fitted, for which model, on which data, with which thresholds; saved atomically,
read with validation (docs/calibration.md describes every field)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator

from rerank.atomic import write_text_atomic
from rerank.calibration.reliability import CalibrationRecord, Reliability
from rerank.calibration.thresholds import ThresholdChoice
from rerank.head import Platt, Temperature

logger = logging.getLogger(__name__)

FORMAT: Literal["nli-rerank-calibration"] = "nli-rerank-calibration"
VERSION = 1
KIND_THRESHOLDS = {"temperature": ("min_entailment", "max_contradiction"), "platt": ("min_score",)}
KIND_PARAMETERS = {"temperature": ("temperature",), "platt": ("slope", "intercept")}


class ModelRecord(CalibrationRecord):
    """The model a calibration was fitted for; ``fingerprint`` is ``LoadedModel.fingerprint`` (the weights)."""

    source: str
    fingerprint: str
    backend: str
    precision: str
    max_length: int = Field(ge=1)
    labels: list[str] | None = None  # label names in logit order (NLI models)


class DataRecord(CalibrationRecord):
    """The labelled pairs a calibration was fitted on (``fit_pairs``) and checked on (``heldout_pairs``)."""

    kind: Literal["nli_pairs", "relevance_pairs"]
    sources: list[str] = Field(min_length=1)
    fit_pairs: int = Field(ge=1)
    heldout_pairs: int = Field(0, ge=0)
    seed: int | None = None
    notes: str = ""


class CalibrationFile(CalibrationRecord):
    """One calibration, as saved by ``save_calibration`` and read by ``load_calibration`` (docs/calibration.md).

    Attributes:
        kind: "temperature" (NLI models) or "platt" (relevance models).
        parameters: {"temperature": T} or {"slope": a, "intercept": b}.
        model: What it was fitted for; loading it with another model logs a warning.
        data: What it was fitted on.
        metrics: {"fit": {"before": Reliability, "after": Reliability}, "heldout": {...}} ("heldout" only when
            some pairs were held out).
        thresholds: Name (min_entailment, max_contradiction, min_score) -> ThresholdChoice, chosen on the
            calibrated probabilities of the "fit" pairs.
    """

    format: Literal["nli-rerank-calibration"] = FORMAT
    version: int = VERSION
    kind: Literal["temperature", "platt"]
    parameters: dict[str, float]
    model: ModelRecord
    data: DataRecord
    metrics: dict[Literal["fit", "heldout"], dict[Literal["before", "after"], Reliability]]
    thresholds: dict[str, ThresholdChoice] = Field(default_factory=dict)
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != VERSION:
            raise ValueError(f"version {value} is not one this nli-rerank reads (it reads version {VERSION})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CalibrationFile:
        expected = KIND_PARAMETERS[self.kind]
        if sorted(self.parameters) != sorted(expected):
            raise ValueError(
                f"parameters of a {self.kind} calibration are {list(expected)}, got {sorted(self.parameters)}"
            )
        self.calibration  # noqa: B018 - builds the object, raising on a temperature <= 0 or a slope <= 0
        wrong = sorted(set(self.thresholds) - set(KIND_THRESHOLDS[self.kind]))
        if wrong:
            raise ValueError(f"thresholds {wrong} do not apply to a {self.kind} calibration "
                             f"(it takes {list(KIND_THRESHOLDS[self.kind])})")  # fmt: skip
        if "fit" not in self.metrics:
            raise ValueError("metrics must hold the 'fit' set")
        return self

    @property
    def calibration(self) -> Temperature | Platt:
        """The head calibration object the parameters describe."""
        if self.kind == "temperature":
            return Temperature(self.parameters["temperature"])
        return Platt(self.parameters["slope"], self.parameters["intercept"])

    def threshold_values(self) -> dict[str, float]:
        """The chosen thresholds as keyword arguments of ``reranker.rerank``, e.g. {"min_entailment": 0.71}."""
        return {name: choice.value for name, choice in sorted(self.thresholds.items())}


def save_calibration(record: CalibrationFile, path: str | Path) -> Path:
    """Write ``record`` as indented JSON, atomically (a killed write leaves the old file); returns the path."""
    if not isinstance(record, CalibrationFile):
        raise TypeError(f"record must be a CalibrationFile, got {type(record).__name__}")
    return write_text_atomic(path, record.model_dump_json(indent=2) + "\n")


def _one_line(path: str | Path, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "file"
        parts.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
    return f"{path}: invalid calibration file: " + "; ".join(parts)


def load_calibration(path: str | Path) -> CalibrationFile:
    """Read and validate a calibration file written by ``save_calibration`` (or ``rerank calibrate``).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not UTF-8 JSON, not a calibration file, or a field that is missing or invalid: one line naming
            the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path} (write one with `rerank calibrate`)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a calibration file: it is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as error:
        where = (
            f" ({error.msg} at line {error.lineno} column {error.colno})"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        raise ValueError(f"{path}: not a calibration file: invalid JSON{where}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: not a calibration file (format is {found!r}, expected {FORMAT!r})")
    try:
        return CalibrationFile.model_validate(payload)
    except ValidationError as error:
        raise ValueError(_one_line(path, error)) from None


CalibrationT = TypeVar("CalibrationT", Temperature, Platt)
CalibrationInput = str | Path | CalibrationFile | Temperature | Platt | None


def resolve_calibration(
    value: CalibrationInput, expected: type[CalibrationT], model: Any, owner: str
) -> tuple[CalibrationT | None, CalibrationFile | None]:
    """What a reranker's ``calibration=`` argument means: (head calibration, the file record when there is one).

    ``value`` is None, a path to a calibration file, a CalibrationFile, or a Temperature/Platt object. A file fitted
    for other weights (``model.fingerprint``) is used with a logged warning.

    Raises:
        ValueError: The file or object is of the other kind (Platt for an NLI model, temperature for relevance).
        TypeError: Any other value.
    """
    if value is None:
        return None, None
    where = "calibration"
    if isinstance(value, (str, Path)):
        where = f"calibration file {value}"
        value = load_calibration(value)
    if isinstance(value, CalibrationFile):
        record, value = value, value.calibration
        if isinstance(value, expected):
            if record.model.fingerprint != model.fingerprint:
                logger.warning(
                    "%s was fitted for model %s (fingerprint %s), not for %s (fingerprint %s); its %s may not suit "
                    "these weights", where, record.model.source, record.model.fingerprint, model.source,
                    model.fingerprint, record.kind,
                )  # fmt: skip
            return value, record
    elif isinstance(value, expected):
        return value, None
    if isinstance(value, (Temperature, Platt)):
        wanted = "a Temperature (NLI models)" if expected is Temperature else "Platt scaling (relevance models)"
        raise ValueError(f"{where} holds {type(value).__name__} scaling, but {owner} takes {wanted}; fit one for "
                         "this model with `rerank calibrate`")  # fmt: skip
    raise TypeError(f"calibration must be a file path, a CalibrationFile or a {expected.__name__}, got {value!r}")
