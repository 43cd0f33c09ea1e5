"""PyTorch backend: loads any sequence-classification cross-encoder through sentence-transformers.

bf16 runs the fp32 weights under autocast (AMX/AVX-512-BF16 kernels where the CPU has them; elsewhere it is
emulated and slower than fp32). There is no torch int8: PyTorch dynamic quantization of the Linear layers kept only
~92% of the mini NLI model's SNLI predictions, below the fidelity bar; use backend="onnx" or "openvino" for int8.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np

from rerank.backends import files
from rerank.backends.base import LoadedModel
from rerank.backends.files import looks_like_path, model_not_found
from rerank.backends.fingerprint import hub_fingerprint, weights_fingerprint
from rerank.errors import ModelLoadError

__all__ = ["PRECISIONS", "can_load", "check_options", "load"]

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")


def can_load(model: str, precision: str, device: str) -> bool:
    """True unless ``model`` is an exported graph without PyTorch weights."""
    if precision not in PRECISIONS:
        return False
    graph_only = files.find_onnx(model) is not None or files.find_openvino(model) is not None
    return not graph_only or files.has_hf_weights(model)


class TorchRunner:
    """Runs a transformers sequence-classification model under torch.inference_mode."""

    backend = "torch"

    def __init__(self, model, precision: str, input_names: tuple[str, ...]):
        self._model = model
        self.precision = precision
        self.input_names = input_names

    @property
    def module(self):
        """The underlying transformers model (what rerank.export converts)."""
        return self._model

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        import torch

        device = next(self._model.parameters()).device
        inputs = {name: torch.from_numpy(np.ascontiguousarray(features[name])).to(device) for name in self.input_names}
        with (
            torch.inference_mode(),
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"),
        ):
            logits = self._model(**inputs).logits
        return logits.float().cpu().numpy()


def check_options(precision: str, device: str) -> None:
    """Raise ValueError for a precision this backend does not run (any torch device is accepted)."""
    if precision not in PRECISIONS:
        raise ValueError(f"the torch backend supports precision {PRECISIONS}, got {precision!r}")


def load(model: str, *, precision: str = "fp32", device: str = "cpu", threads: int | None = None) -> LoadedModel:
    """Load a cross-encoder by hub id or directory.

    Raises:
        ModelLoadError: The model is neither a directory nor available from the hub/cache.
        ValueError: An unsupported precision.
    """
    check_options(precision, device)
    import torch
    from sentence_transformers import CrossEncoder

    if threads is not None:
        torch.set_num_threads(threads)
    expanded = os.path.expanduser(model)
    if looks_like_path(model) and not os.path.isdir(expanded):
        raise model_not_found(model, "no such directory")
    try:
        cross_encoder = CrossEncoder(expanded if os.path.isdir(expanded) else model, device=device)
    except (OSError, ValueError) as error:
        if os.path.isdir(expanded):
            raise ModelLoadError(f"could not load a cross-encoder from directory {model!r}: {error}") from error
        raise model_not_found(model, type(error).__name__) from error
    hf_model = cross_encoder[0].model
    hf_model.eval()
    config = hf_model.config
    tokenizer = cross_encoder.tokenizer
    input_names = tuple(
        name for name in tokenizer.model_input_names if name in {"input_ids", "attention_mask", "token_type_ids"}
    )
    if getattr(config, "type_vocab_size", 1) == 0 and "token_type_ids" in input_names:
        input_names = tuple(name for name in input_names if name != "token_type_ids")
    return LoadedModel(
        source=model,
        tokenizer=tokenizer,
        num_logits=int(config.num_labels),
        id2label={int(k): str(v) for k, v in (config.id2label or {}).items()},
        max_positions=getattr(config, "max_position_embeddings", None),
        runner=TorchRunner(hf_model, precision, input_names),
        fingerprint=_fingerprint(model, expanded),
        device=device,
        threads=threads,
    )


def _fingerprint(model: str, expanded: str) -> str:
    """The weights' content fingerprint for a directory; ``hub:<id>@<commit>`` of the local snapshot for a hub id."""
    if os.path.isdir(expanded):
        return weights_fingerprint(expanded)
    found = hub_fingerprint(model)
    if found is None:
        logger.warning(
            "found no local snapshot of %r in the Hugging Face cache; its cache keys name the id only, so scores "
            "cached for an older revision would be reused",
            model,
        )
        return f"hub:{model}"
    return found
