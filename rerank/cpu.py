"""What this CPU can do, read at run time (never assumed): its model name and the features that decide which
precision runs fast here (AMX and AVX-512 BF16 for bf16, VNNI for int8, AVX2 as the floor).

Machines differ: some are Intel Xeon with AMX, others AMD EPYC with AVX2 only. Benchmarks print ``describe()``
above every table.

Example:
    >>> info = cpu_info()
    >>> isinstance(info.model, str) and isinstance(info.has("avx2"), bool)
    True
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["FEATURES", "INT8_VARIANTS", "CPUInfo", "bf16_units", "cpu_info", "describe", "int8_variants",
           "machine_kind"]  # fmt: skip

# Feature name -> the /proc/cpuinfo flags that provide it (any one is enough).
FEATURES: dict[str, tuple[str, ...]] = {
    "amx_bf16": ("amx_bf16",),
    "avx512_bf16": ("avx512_bf16",),
    "bf16": ("amx_bf16", "avx512_bf16"),
    "vnni": ("avx512_vnni", "avx_vnni", "amx_int8"),
    "avx512": ("avx512f",),
    "avx2": ("avx2",),
    "neon": ("asimd", "neon"),
}
# Dynamically quantized ONNX files of the sentence-transformers layout (onnx/model_<variant>.onnx), best first, with
# the feature each needs: its quantization settings suit that instruction set (on AVX2 without VNNI, u8 activations
# with reduced-range weights avoid the saturation of VPMADDUBSW).
INT8_VARIANTS: tuple[tuple[str, str], ...] = (
    ("qint8_avx512_vnni", "vnni"),
    ("qint8_avx512", "avx512"),
    ("quint8_avx2", "avx2"),
    ("qint8_arm64", "neon"),
)


@dataclass(frozen=True)
class CPUInfo:
    """The CPU model, its logical core count and its feature flags."""

    model: str
    cores: int
    flags: frozenset[str]

    def has(self, feature: str) -> bool:
        """True when the CPU has ``feature`` (a key of FEATURES, or a raw flag name)."""
        return any(flag in self.flags for flag in FEATURES.get(feature, (feature,)))

    def summary(self) -> str:
        """The features that matter for inference, e.g. "amx_bf16 avx512_bf16 vnni avx512 avx2"."""
        shown = [name for name in ("amx_bf16", "avx512_bf16", "vnni", "avx512", "avx2", "neon") if self.has(name)]
        return " ".join(shown) or "none of amx/avx512/vnni/avx2"


def _read_cpuinfo(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


@cache
def cpu_info() -> CPUInfo:
    """This machine's CPU, from /proc/cpuinfo where there is one, else from ``platform`` (no flags)."""
    fields = _read_cpuinfo(Path("/proc/cpuinfo"))
    model = fields.get("model name") or fields.get("Hardware") or platform.processor() or platform.machine()
    flags = frozenset((fields.get("flags") or fields.get("Features") or "").split())
    return CPUInfo(model=model, cores=os.cpu_count() or 1, flags=flags)


def bf16_units(info: CPUInfo | None = None) -> str | None:
    """The CPU's native bf16 matrix units, "AMX" or "AVX-512 BF16", or None where bf16 would be emulated."""
    info = info or cpu_info()
    if info.has("amx_bf16"):
        return "AMX"
    return "AVX-512 BF16" if info.has("avx512_bf16") else None


def int8_variants(info: CPUInfo | None = None) -> list[str]:
    """The int8 ONNX variants (INT8_VARIANTS names) this CPU runs well, best first; [] when none fits."""
    info = info or cpu_info()
    return [variant for variant, feature in INT8_VARIANTS if info.has(feature)]


def machine_kind(info: CPUInfo | None = None) -> str:
    """What decides how a reduced precision rounds here: architecture and inference features, e.g.
    "x86_64 amx_bf16 avx512_bf16 vnni avx512 avx2" (the key of a precision check's verdict; the model name and core
    count do not count, so machines of one kind share verdicts)."""
    info = info or cpu_info()
    return f"{platform.machine() or 'unknown'} {info.summary()}"


def describe() -> str:
    """Two lines for the top of a benchmark table: the CPU model and cores, then all its flags."""
    info = cpu_info()
    return (
        f"CPU: {info.model}; {info.cores} logical cores; inference features: {info.summary()}\n"
        f"CPU flags: {' '.join(sorted(info.flags)) or 'unknown'}"
    )
