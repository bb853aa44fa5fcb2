"""Training and fine-tuning of UNet2DModel diffusion models: presets, parameters, data, the loop, checkpoints.

Nothing is re-exported here, so the API can import ``params`` and ``presets`` without pulling in torch.
"""
