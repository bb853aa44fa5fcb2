"""Sampling: the scheduler catalogue, the one denoising loop, loaded-model cache, and the sample job."""
