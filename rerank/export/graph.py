"""PyTorch -> ONNX graph with ``torch.onnx.export(dynamo=True)``.

One batch Dim and one sequence Dim are shared by every input: the legacy TorchScript exporter was seen to move
DeBERTa-v2/v3 logits by ~3e-3, the dynamo exporter by ~1e-8. An exported graph may drop inputs it does not use
(DeBERTa-v3 ignores token_type_ids); the backends feed only the inputs a graph lists.

DeBERTa-v2/v3 graphs are traced with *windowed* relative attention (``windowed_relative_attention``): transformers
scores every token against all 2 x 256 relative-position embeddings (and tiles them over the batch) before
gathering the L x L entries it uses; a sequence of L tokens only reaches the 2 x min(L, 256) positions around the
centre (a bucketed distance is never larger than the distance), so the graph projects and scores only those. The
arithmetic of every kept entry is unchanged (the parity check compares the export with the unpatched model), and
short pairs (sentences, ~40 tokens) run several times faster.
"""

from __future__ import annotations

import contextlib
import os
import types
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rerank.export.errors import ExportError

__all__ = ["OPSET", "export_onnx_graph", "tokenize_pairs", "windowed_relative_attention"]

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


def _windowed_bias(self, query_layer, key_layer, relative_pos, rel_embeddings, scale_factor):
    """transformers' DisentangledSelfAttention.disentangled_attention_bias, over the reachable window only.

    A sequence of ``length`` tokens has relative distances in [-(length - 1), length - 1], and DeBERTa's log
    buckets never enlarge a distance, so the gathered indices ``distance + span`` (c2p) and ``span - distance`` (p2c)
    lie in [span - w, span + w) with w = min(length, span). Only those rows of the relative embeddings are
    projected, and queries and keys are scored against them per head (broadcast, not tiled over the batch); the
    indices shift by span - w. Other cases (cross-attention, per-example positions) use the original method.
    """
    import torch

    length = query_layer.size(-2)
    if relative_pos is None or key_layer.size(-2) != length or relative_pos.numel() != length * length:
        return type(self).disentangled_attention_bias(
            self, query_layer, key_layer, relative_pos, rel_embeddings, scale_factor
        )
    heads, span = self.num_attention_heads, self.pos_ebd_size
    width = min(length, span)
    distance = relative_pos.reshape(1, 1, length, length).to(torch.long)
    window = rel_embeddings[span - width : span + width, :].unsqueeze(0)
    queries = query_layer.view(-1, heads, length, query_layer.size(-1))
    keys = key_layer.view(-1, heads, length, key_layer.size(-1))
    batch = queries.size(0)
    score = None
    if "c2p" in self.pos_att_type:
        projection = self.key_proj if self.share_att_key else self.pos_key_proj
        pos_key = self.transpose_for_scores(projection(window), heads)
        scale = torch.sqrt(torch.tensor(pos_key.size(-1), dtype=torch.float) * scale_factor)
        c2p = torch.matmul(queries, pos_key.transpose(-1, -2).unsqueeze(0))
        index = torch.clamp(distance + width, 0, 2 * width - 1).expand(batch, heads, length, length)
        score = torch.gather(c2p, dim=-1, index=index) / scale.to(dtype=c2p.dtype)
    if "p2c" in self.pos_att_type:
        projection = self.query_proj if self.share_att_key else self.pos_query_proj
        pos_query = self.transpose_for_scores(projection(window), heads)
        scale = torch.sqrt(torch.tensor(pos_query.size(-1), dtype=torch.float) * scale_factor)
        p2c = torch.matmul(keys, pos_query.transpose(-1, -2).unsqueeze(0))
        index = torch.clamp(-distance + width, 0, 2 * width - 1).expand(batch, heads, length, length)
        p2c = torch.gather(p2c, dim=-1, index=index).transpose(-1, -2) / scale.to(dtype=p2c.dtype)
        score = p2c if score is None else score + p2c
    return 0 if score is None else score.reshape(-1, length, length)


@contextlib.contextmanager
def windowed_relative_attention(hf_model) -> Iterator[int]:
    """Within the block, ``hf_model``'s DeBERTa-v2/v3 attention layers compute relative attention over the reachable
    window only (see the module docstring); yields how many layers were changed (0 for other architectures). The
    model's class is untouched: the method is replaced on each layer object and restored on exit."""
    try:
        from transformers.models.deberta_v2.modeling_deberta_v2 import DisentangledSelfAttention
    except ImportError:
        yield 0
        return
    layers = [
        module
        for module in hf_model.modules()
        if isinstance(module, DisentangledSelfAttention) and getattr(module, "relative_attention", False)
    ]
    for layer in layers:
        layer.disentangled_attention_bias = types.MethodType(_windowed_bias, layer)  # type: ignore[method-assign]
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.disentangled_attention_bias


def export_onnx_graph(
    hf_model,
    tokenizer,
    input_names: Sequence[str],
    path: Path,
    *,
    opset: int = OPSET,
    module=None,
    output_name: str = "logits",
) -> int:
    """Write ``hf_model`` as an ONNX graph with dynamic batch and sequence axes (dynamo exporter), DeBERTa-v2/v3
    attention windowed (``windowed_relative_attention``).

    ``module`` replaces the logits-only wrapper of ``hf_model`` with another torch module taking the same keyword
    inputs (a bi-encoder's transformer plus pooling, rerank.export.sentence); its output is named ``output_name``.

    Returns:
        How many attention layers were traced windowed (0 for other architectures).

    Raises:
        ExportError: The exporter failed (it raises many kinds of errors for unsupported models).
    """
    import torch

    features = tokenize_pairs(tokenizer, TRACE_PAIRS, input_names)
    sample = {name: torch.from_numpy(array) for name, array in features.items()}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: sequence} for name in input_names}
    with (
        warnings.catch_warnings(),
        open(os.devnull, "w") as quiet,
        contextlib.redirect_stdout(quiet),
        windowed_relative_attention(hf_model) as windowed,
    ):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module if module is not None else _wrapper(hf_model), (), kwargs=sample, dynamo=True,
                dynamic_shapes=dynamic, input_names=list(input_names), output_names=[output_name],
                opset_version=opset, optimize=True,
            )  # fmt: skip
        except Exception as error:  # the exporter raises many kinds of errors for unsupported models
            raise ExportError(f"torch.onnx.export failed for {type(hf_model).__name__}: {error}") from error
    if program is None:  # only when asked to write the file itself, which this call does not do
        raise ExportError(f"torch.onnx.export returned no program for {type(hf_model).__name__}")
    program.save(str(path))
    return windowed
