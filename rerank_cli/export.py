"""``rerank export``: convert a PyTorch cross-encoder to an ONNX or OpenVINO directory the rerankers load directly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank_cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX or OpenVINO (optionally int8)", description=__doc__,
        epilog="example: rerank export cross-encoder/nli-deberta-v3-small --format openvino --out nli-ov",
    )  # fmt: skip
    parser.add_argument("model", help="hub id or directory with PyTorch/SafeTensors weights, or an fp32 model.onnx dir")
    parser.add_argument("--format", choices=("onnx", "openvino"), default="onnx", help="output format (default onnx)")
    parser.add_argument(
        "--quantize",
        choices=("int8",),
        default=None,
        help="int8: dynamic for onnx; calibrated static (NNCF) for openvino, needs --calibration",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="TSV",
        help="premise<TAB>hypothesis pairs for openvino int8 (a few hundred like those to be scored)",
    )
    parser.add_argument("--calibration-size", type=int, default=300, help="pairs read from --calibration (300)")
    parser.add_argument("--labels", nargs="+", default=None, help="label names in logit order, written to config.json")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--out", required=True, help="directory to create")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if it holds an earlier `rerank export` (anything else is refused and left untouched); "
        "the old export is removed only once the new one is written and verified",
    )
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.backends.files import read_manifest
    from rerank.export import ExportError, export_model, read_pairs_tsv
    from rerank.export.staging import check_destination

    if args.calibration_size < 1:
        raise ValueError(f"--calibration-size must be a positive int, got {args.calibration_size}")
    check_destination(Path(args.out).expanduser(), args.overwrite)  # before the model loads (seconds)
    calibration = read_pairs_tsv(args.calibration, limit=args.calibration_size) if args.calibration else None
    try:
        out = export_model(
            args.model, args.out, format=args.format, quantize=args.quantize, calibration=calibration,
            labels=args.labels, opset=args.opset, overwrite=args.overwrite,
        )  # fmt: skip
    except (FileExistsError, ExportError) as error:
        print(f"rerank export: error: {error}", file=sys.stderr)
        return 2
    manifest = read_manifest(out)
    if args.json:
        print_json({"out": str(out), **manifest})
        return 0
    check = manifest["verification"]
    print(f"wrote {out} ({manifest['format']}, {manifest['precision']})")
    print(f"  inputs {', '.join(manifest['inputs'])}; labels {manifest['id2label'] or 'none (relevance model)'}")
    print(
        f"  check on {check['pairs']} pairs: max |logit - torch| {check['max_abs_logit_diff']:.2e}, "
        f"argmax agreement {check['argmax_agreement']:.0%}"
    )
    print(f"  load it with NLIReranker({str(out)!r}) or `rerank score --model {out} ...`")
    return 0
