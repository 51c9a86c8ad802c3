"""Audio in: loading, resampling, validation, voice activity detection, utterance segmentation."""
