"""The decoding options shared by `a2m generate`, `a2m export onnx` and `a2m eval`; their defaults are
DecodingConfig's."""

from __future__ import annotations

import argparse

from a2m_core.errors import InputError
from a2m_core.runtime.interface import DecodingConfig


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    d = DecodingConfig()
    parser.add_argument("--num-iters", type=int, default=d.num_iters,
                        help=f"MaskGIT iterations (default {d.num_iters})")
    parser.add_argument("--cfg-scale", type=float, default=d.cfg_scale,
                        help=f"guidance scale of the base layer (default {d.cfg_scale:g}; 1 skips the "
                             "unconditional pass)")
    parser.add_argument("--res-cfg-scale", type=float, default=d.res_cfg_scale,
                        help=f"guidance scale of the residual layers (default {d.res_cfg_scale:g}; 1 skips the "
                             "unconditional pass)")
    parser.add_argument("--temperature", type=float, default=d.temperature,
                        help=f"sampling temperature (default {d.temperature:g})")
    parser.add_argument("--topk", type=int, default=d.topk,
                        help="sample only among the k most likely codes (default: all)")
    parser.add_argument("--length-quantile", type=float, default=d.length_quantile,
                        help="where no length is given, the motion lasts this quantile of the length predictor's "
                             f"distribution, in (0, 1) (default {d.length_quantile:g}: instructions that name no count "
                             "or pace get their longer readings; 0.5: the median)")


def decoding_from(args: argparse.Namespace) -> DecodingConfig:
    """The DecodingConfig of parsed decoding options; InputError naming the option otherwise."""
    try:
        return DecodingConfig(num_iters=args.num_iters, cfg_scale=args.cfg_scale, res_cfg_scale=args.res_cfg_scale,
                              temperature=args.temperature, topk=args.topk, length_quantile=args.length_quantile)
    except ValueError as exc:
        raise InputError(f"{exc}: fix --num-iters, --temperature, --topk or --length-quantile") from None
