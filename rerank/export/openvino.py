"""ONNX graph -> OpenVINO IR (openvino_model.xml + .bin), optionally NNCF int8."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank.backends import files
from rerank.export.quantize import quantize_openvino_static

__all__ = ["write_openvino"]


def write_openvino(
    onnx_path: Path,
    target: Path,
    tokenizer,
    input_names: Sequence[str],
    quantize: str | None,
    calibration: Sequence[tuple[str, str]] | None,
) -> dict[str, Any] | None:
    """Convert ``onnx_path`` to ``target``/openvino_model.xml (fp32 weights kept, not compressed to fp16).

    Returns:
        The manifest's "quantization" entry: None for fp32, the NNCF settings for int8.
    """
    import openvino as ov

    ov_model = ov.convert_model(str(onnx_path))
    quantization = None
    if quantize == "int8":
        pairs = list(calibration or ())
        ov_model = quantize_openvino_static(ov_model, tokenizer, input_names, pairs)
        quantization = {"method": "static", "preset": "mixed", "tool": "nncf", "calibration_pairs": len(pairs)}
    ov.save_model(ov_model, str(target / files.OPENVINO_FILE), compress_to_fp16=False)
    return quantization
