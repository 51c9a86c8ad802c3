"""`a2m export onnx|trt`: the complete model as two ONNX graphs, and TensorRT engines from them."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from a2m_cli.decoding import add_decoding_arguments, decoding_from
from a2m_cli.paths import check_distinct, output_folder
from a2m_core.errors import InputError
from a2m_core.paths import SHIPPED_MODEL_DIR, shipped_model_dir

AGREEMENT_CLIPS = 8  # spoken instructions the int8 export is compared on


def _model_dir(path: Path | None) -> Path:
    if path is None:
        return shipped_model_dir()
    if not (path / "config.json").is_file():
        raise InputError(f"no model folder at {path}: expected config.json and model.safetensors")
    return path


def _onnx(args: argparse.Namespace) -> int:
    import onnx

    from a2m_core.runtime.export import INT8, export_onnx
    from a2m_core.runtime.quantize import quantize_export
    from a2m_core.runtime.trt_ops import tensorrt_problems

    model_dir = _model_dir(args.model)
    check_distinct({"--out": output_folder(args.out)}, {"--model": model_dir})
    if args.int8:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".float-", dir=args.out.parent) as tmp:
            float_info = export_onnx(model_dir, Path(tmp) / "float", decoding=decoding_from(args), opset=args.opset)
            info = quantize_export(float_info, args.out)
            agreement = _agreement(float_info, info)
    else:
        info, agreement = export_onnx(model_dir, args.out, decoding=decoding_from(args), opset=args.opset), None
    for path in (info.condition_path, info.motion_path):
        if info.precision == INT8:
            verdict = "int8 MatMul weights, for onnxruntime on CPU (TensorRT: use the float export)"
        else:
            problems = tensorrt_problems(onnx.load(str(path)), path.name)
            verdict = "all ops TensorRT 10 parses" if not problems else f"{len(problems)} ops TensorRT 10 refuses"
            verdict += "".join(f"\n  {problem}" for problem in problems)
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, onnx.checker ok, {verdict}")
    print(f"{info.directory / 'export.json'}: opset {info.opset}, {info.precision}, source model hash "
          f"{info.source_model_hash[:12]}")
    if agreement:
        print(agreement)
    return 0


def _agreement(float_info, int8_info) -> str:
    """How closely the int8 graphs follow the float ones on a few spoken instructions, in words."""
    from a2m_core.runtime.onnx_backend import OnnxRuntimeBackend
    from a2m_core.runtime.quantize import token_agreement
    from a2m_core.runtime.speed_bench import instruction_audio

    clips = [instruction_audio(3.0, seed=k) for k in range(AGREEMENT_CLIPS)]
    cpu = ["CPUExecutionProvider"]
    agreement = token_agreement(OnnxRuntimeBackend(float_info, cpu), OnnxRuntimeBackend(int8_info, cpu),
                                [audio for audio, _ in clips], list(range(AGREEMENT_CLIPS)))
    return (f"int8 vs float on {AGREEMENT_CLIPS} clips of 3 s ({clips[0][1]}), same noise: "
            f"{100 * agreement['tokens']:.1f} % of tokens equal (base layer {100 * agreement['base_tokens']:.1f} %), "
            f"{100 * agreement['lengths']:.0f} % of predicted lengths equal; what that costs in the paper's metrics: "
            f"a2m eval --model MODEL --onnx {int8_info.directory} ...")


def _trt(args: argparse.Namespace) -> int:
    from a2m_core.runtime.export import FLOAT32, read_export
    from a2m_core.runtime.tensorrt_backend import tensorrt_unavailable

    reason = tensorrt_unavailable()
    if reason:
        raise InputError(reason)
    check_distinct({"--out": output_folder(args.out)}, {"--onnx": args.onnx})
    info = read_export(args.onnx)
    if info.precision != FLOAT32:
        raise InputError(f"{args.onnx} is an {info.precision} export for onnxruntime on CPU; TensorRT builds from the "
                         "float export (a2m export onnx without --int8; --fp16 for half precision)")
    from a2m_core.runtime.tensorrt_backend import EngineOptions, build_engines

    folder = build_engines(info, args.out, EngineOptions(fp16=args.fp16, max_batch=args.max_batch,
                                                         max_audio_s=args.max_audio_s))
    print(f"{folder}: TensorRT engines for {info.directory} (batch <= {args.max_batch}, audio <= "
          f"{args.max_audio_s:g} s{', fp16' if args.fp16 else ''})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="export the model to ONNX and TensorRT",
                              description="Export the complete model for fast inference: two ONNX graphs, "
                              "then optionally TensorRT engines built from them.")
    sub = p.add_subparsers(dest="export_command", metavar="FORMAT", required=True)

    o = sub.add_parser("onnx", help="model folder -> condition.onnx + motion.onnx + export.json",
                       description="Write graph (a) audio -> condition (dynamic batch and audio length) and graph "
                       "(b) condition + length + noise -> tokens, features, joints (decoding unrolled, dynamic "
                       "batch), check them with onnx.checker and against TensorRT 10's operator list.")
    o.add_argument("--model", type=Path, help=f"model folder (default: {SHIPPED_MODEL_DIR})")
    o.add_argument("--out", type=Path, required=True, help="export folder to write (replaced if it exists)")
    o.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    o.add_argument("--int8", action="store_true", help="quantise MatMul weights to int8 (onnxruntime dynamic "
                   "quantisation): 1.5-1.8x faster on CPU, the same metrics within their intervals; the backend onnxruntime-int8 "
                   "(see docs/performance.md, INT8)")
    add_decoding_arguments(o)  # baked into graph (b)
    o.set_defaults(func=_onnx)

    t = sub.add_parser("trt", help="ONNX export -> TensorRT engines (needs TensorRT 10 and a GPU)",
                       description="Build TensorRT engines with optimisation profiles from an ONNX export. Engines "
                       "are cached in --out under a key of GPU name, TensorRT version, ONNX hash and these options, "
                       "and rebuilt when any of them changes.")
    t.add_argument("--onnx", type=Path, required=True, help="ONNX export folder (from a2m export onnx)")
    t.add_argument("--out", type=Path, required=True, help="engine cache folder")
    t.add_argument("--fp16", action="store_true", help="allow half-precision kernels")
    t.add_argument("--max-audio-s", type=float, default=30.0, help="longest audio the engines take (default 30)")
    t.add_argument("--max-batch", type=int, default=8, help="largest batch the engines take (default 8)")
    t.set_defaults(func=_trt)
