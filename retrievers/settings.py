"""Settings checked once: pydantic field types shared by the retrievers' constructors and their loaders.

Each retriever kind declares its settings as a ``Settings`` model built from the field types below. Its
constructor validates its arguments with ``check_settings`` (a TypeError or ValueError naming the argument), and
its ``load`` validates the saved manifest's ``config`` with ``read_settings`` (an ``IndexFormatError`` naming the
file and the field), so a saved index can never hold a value the constructor would refuse.

Example:
    >>> class Example(Settings):
    ...     k1: NonNegative
    >>> check_settings(Example, k1=-5)
    Traceback (most recent call last):
    ...
    ValueError: k1 must be >= 0.0, got -5
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, ValidationInfo
from pydantic_core import ErrorDetails, PydanticCustomError

__all__ = [
    "Flag",
    "IndexFormatError",
    "NonNegative",
    "NonNegativeInt",
    "PositiveInt",
    "RelativePath",
    "Settings",
    "Text",
    "UnitInterval",
    "check_settings",
    "describe",
    "one_of",
    "read_settings",
]

SettingsModel = TypeVar("SettingsModel", bound=BaseModel)
_JSON_TYPES = {type(None): "null", bool: "a boolean", str: "a string", list: "an array", dict: "an object"}


class IndexFormatError(ValueError):
    """A saved retriever directory is missing, truncated, modified or of another kind or format version."""


class Settings(BaseModel):
    """Base of every settings model: unknown fields are errors, validated values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _wrong_type(info: ValidationInfo, expected: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(
        "wrong_type",
        "{name} must be {expected}, got {got}",
        {"name": info.field_name, "expected": expected, "got": type(value).__name__},
    )


def _number(low: float, high: float | None = None) -> PlainValidator:
    """A finite real number (not a bool) in [low, high]; returned as float."""

    def check(value: object, info: ValidationInfo) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _wrong_type(info, "a number", value)
        number = float(value)
        if not (math.isfinite(number) and number >= low and (high is None or number <= high)):
            expected = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"{info.field_name} must be {expected}, got {value!r}")
        return number

    return PlainValidator(check)


def _integer(low: int) -> PlainValidator:
    def check(value: object, info: ValidationInfo) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _wrong_type(info, "a positive int" if low == 1 else f"an int >= {low}", value)
        if value < low:
            raise ValueError(f"{info.field_name} must be >= {low}, got {value}")
        return int(value)

    return PlainValidator(check)


def _typed(kind: type, expected: str) -> PlainValidator:
    def check(value: object, info: ValidationInfo) -> Any:
        if not isinstance(value, kind):
            raise _wrong_type(info, expected, value)
        return value

    return PlainValidator(check)


def _relative_path(value: object, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise _wrong_type(info, "a relative path", value)
    path = PurePosixPath(value)
    if not value or path.is_absolute() or "\\" in value or path.as_posix() != value or ".." in path.parts:
        raise ValueError(f"{info.field_name} must be a plain relative path inside the index, got {value!r}")
    return value


def one_of(choices: Collection[str], what: str) -> PlainValidator:
    """A string among ``choices``; otherwise ``unknown <what> 'x'; expected one of [...]``."""

    def check(value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"unknown {what} {value!r}; expected one of {sorted(choices)}")
        return value

    return PlainValidator(check)


NonNegative = Annotated[float, _number(0.0)]
UnitInterval = Annotated[float, _number(0.0, 1.0)]
PositiveInt = Annotated[int, _integer(1)]
NonNegativeInt = Annotated[int, _integer(0)]
Flag = Annotated[bool, _typed(bool, "a bool")]
Text = Annotated[str, _typed(str, "a str")]
RelativePath = Annotated[str, PlainValidator(_relative_path)]


def _location(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"])


def describe(error: ErrorDetails) -> str:
    """One sentence for one pydantic error: our validators' own message, or one naming the field."""
    where = _location(error)
    value = error.get("input")
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if error["type"] == "missing":
        return f"{where} is missing"
    if error["type"] == "extra_forbidden":
        return f"{where} is not a known setting (got {value!r})"
    if error["type"] in {"model_type", "dict_type", "model_attributes_type"}:
        return f"{where} must be an object, got {_JSON_TYPES.get(type(value), type(value).__name__)}"
    if error["type"] == "wrong_type":
        return error["msg"]
    return f"{where}: {error['msg']} (got {value!r})"


def check_settings(model: type[SettingsModel], **values: Any) -> SettingsModel:
    """Validate constructor arguments: TypeError for a wrong type, ValueError for a bad value, each naming it."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        raise (TypeError if first["type"] == "wrong_type" else ValueError)(describe(first)) from None


def read_settings(
    model: type[SettingsModel], values: object, where: Path, field: str | None = "config"
) -> SettingsModel:
    """Validate a saved object (``field`` of the file ``where``, None: the whole file); IndexFormatError naming both."""
    if not isinstance(values, dict):
        got = _JSON_TYPES.get(type(values), type(values).__name__)
        raise IndexFormatError(f"{where}: {field or 'the file'} must be an object, got {got}")
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(part for part in (field, _location(first)) if part)
        raise IndexFormatError(
            f"{where}: invalid {name}: {describe(first)}; the file is damaged or was not written by this program"
        ) from None
