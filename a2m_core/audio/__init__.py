"""Audio: loading, resampling, validation, voice activity detection, utterance segmentation, speech synthesis."""
