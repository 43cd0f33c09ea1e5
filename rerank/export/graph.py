"""PyTorch -> ONNX graph with ``torch.onnx.export(dynamo=True)``.

One batch Dim and one sequence Dim are shared by every input: the legacy TorchScript exporter was seen to move
DeBERTa-v2/v3 logits by ~3e-3, the dynamo exporter by ~1e-8. An exported graph may drop inputs it does not use
(DeBERTa-v3 ignores token_type_ids); the backends feed only the inputs a graph lists.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rerank.export.errors import ExportError

__all__ = ["OPSET", "export_onnx_graph", "tokenize_pairs"]

OPSET = 18
# Two pairs of different lengths to trace with (their shapes differ from the verification pairs').
TRACE_PAIRS = (
    ("A man is playing a guitar on stage in front of a large crowd at night.", "A person performs music."),
    ("Aspirin reduced the rate of myocardial infarction by 40% in the treated group over five years.",
     "Aspirin prevents heart attacks."),
)  # fmt: skip


def tokenize_pairs(tokenizer, pairs: Sequence[tuple[str, str]], input_names: Sequence[str]) -> dict[str, np.ndarray]:
    """int64 arrays of the ``input_names`` for ``pairs``, padded together (zeros for token_type_ids if absent)."""
    encoded = tokenizer([p for p, _ in pairs], [h for _, h in pairs], padding=True, truncation="only_first",
                        max_length=256, return_tensors="np")  # fmt: skip
    out = {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names if name in encoded}
    if "token_type_ids" in input_names and "token_type_ids" not in out:
        out["token_type_ids"] = np.zeros_like(out["input_ids"])
    return out


def _wrapper(hf_model):
    import torch

    class LogitsOnly(torch.nn.Module):
        """Keyword inputs in, logits out: the signature the exporter traces."""

        def __init__(self):
            super().__init__()
            self.model = hf_model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids
            return self.model(**inputs).logits

    return LogitsOnly().eval()


def export_onnx_graph(hf_model, tokenizer, input_names: Sequence[str], path: Path, *, opset: int = OPSET) -> None:
    """Write ``hf_model`` as an ONNX graph with dynamic batch and sequence axes (dynamo exporter).

    Raises:
        ExportError: The exporter failed (it raises many kinds of errors for unsupported models).
    """
    import torch

    features = tokenize_pairs(tokenizer, TRACE_PAIRS, input_names)
    sample = {name: torch.from_numpy(array) for name, array in features.items()}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: sequence} for name in input_names}
    with warnings.catch_warnings(), open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                _wrapper(hf_model), (), kwargs=sample, dynamo=True, dynamic_shapes=dynamic,
                input_names=list(input_names), output_names=["logits"], opset_version=opset, optimize=True,
            )  # fmt: skip
        except Exception as error:  # the exporter raises many kinds of errors for unsupported models
            raise ExportError(f"torch.onnx.export failed for {type(hf_model).__name__}: {error}") from error
    if program is None:  # only when asked to write the file itself, which this call does not do
        raise ExportError(f"torch.onnx.export returned no program for {type(hf_model).__name__}")
    program.save(str(path))
