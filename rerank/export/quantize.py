"""int8 quantization: onnxruntime dynamic quantization of an ONNX graph, NNCF static quantization of OpenVINO.

ONNX int8 needs no data (int8 per-channel weights for every MatMul/Gemm, activations quantized per batch). OpenVINO
int8 is post-training static quantization calibrated on (premise, hypothesis) pairs like the ones to be scored.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank.errors import MissingDependencyError
from rerank.export.graph import tokenize_pairs

__all__ = ["ONNX_DYNAMIC", "quantize_onnx_dynamic", "quantize_openvino_static"]

logger = logging.getLogger(__name__)

# How quantize_onnx_dynamic quantizes, as recorded in a manifest's "quantization".
ONNX_DYNAMIC: dict[str, Any] = {"method": "dynamic", "weights": "int8 per channel", "tool": "onnxruntime.quantization"}


def quantize_onnx_dynamic(source: Path, target: Path) -> None:
    """int8 weights for every MatMul/Gemm, activations quantized per batch (onnxruntime dynamic quantization)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        try:
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        except Exception as error:  # pre-processing is an optimisation; quantize the raw graph without it
            logger.info("onnx quantization pre-processing skipped: %s", error)
            prepared = source
        quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gemm"])  # fmt: skip


def quantize_openvino_static(ov_model, tokenizer, input_names: Sequence[str], pairs: Sequence[tuple[str, str]]):
    """NNCF static int8 quantization of an OpenVINO model, calibrated on one tokenised pair per sample.

    Raises:
        MissingDependencyError: nncf is not installed.
    """
    try:
        import nncf
    except ImportError as error:
        raise MissingDependencyError("OpenVINO int8 export needs nncf: pip install 'nli-rerank[openvino]'") from error
    samples = [tokenize_pairs(tokenizer, [pair], input_names) for pair in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nncf.quantize(
            ov_model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(samples),
            preset=nncf.QuantizationPreset.MIXED,
        )  # fmt: skip
