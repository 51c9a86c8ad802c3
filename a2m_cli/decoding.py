"""The decoding options shared by `a2m generate`, `a2m export onnx` and `a2m eval`."""

from __future__ import annotations

import argparse

from a2m_core.errors import InputError


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-iters", type=int, default=10, help="MaskGIT iterations (default 10)")
    parser.add_argument("--cfg-scale", type=float, default=4.0,
                        help="guidance scale of the base layer (default 4; 1 skips the unconditional pass)")
    parser.add_argument("--res-cfg-scale", type=float, default=5.0,
                        help="guidance scale of the residual layers (default 5; 1 skips the unconditional pass)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1)")
    parser.add_argument("--topk", type=int, help="sample only among the k most likely codes (default: all)")
    parser.add_argument("--length-quantile", type=float, default=0.65,
                        help="where no length is given, the motion lasts this quantile of the length predictor's "
                             "distribution, in (0, 1) (default 0.65: instructions that name no count or pace get "
                             "their longer readings; 0.5: the median)")


def decoding_from(args: argparse.Namespace):
    """The DecodingConfig of parsed decoding options; InputError naming the option otherwise."""
    from a2m_core.runtime.interface import DecodingConfig

    try:
        return DecodingConfig(num_iters=args.num_iters, cfg_scale=args.cfg_scale, res_cfg_scale=args.res_cfg_scale,
                              temperature=args.temperature, topk=args.topk, length_quantile=args.length_quantile)
    except ValueError as exc:
        raise InputError(f"{exc}: fix --num-iters, --temperature, --topk or --length-quantile") from None
