"""The contrastive motion/text/audio evaluator behind `a2m eval` (see model.py)."""
