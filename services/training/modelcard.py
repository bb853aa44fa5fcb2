"""``README.md`` of a trained model: where it came from (data, base model, hyperparameters) and how to load it."""

import json
from collections.abc import Mapping
from typing import Any

from services.training.params import TrainingParams

KNOWN = ("name", "description", "dataset", "base_model", "hyperparameters", "class_names")

UNCONDITIONAL_USAGE = """\
```python
from diffusers import DDPMPipeline

pipeline = DDPMPipeline.from_pretrained("path/to/this/folder")
images = pipeline(batch_size=4, num_inference_steps=1000).images
images[0].save("sample.png")
```"""

CONDITIONAL_USAGE = """\
`DDPMPipeline` takes no class labels, so sample with the UNet and a scheduler directly:

```python
import torch
from diffusers import DDIMScheduler, UNet2DModel

unet = UNet2DModel.from_pretrained("path/to/this/folder", subfolder="unet")
scheduler = DDIMScheduler.from_pretrained("path/to/this/folder", subfolder="scheduler")
scheduler.set_timesteps(50)
labels = torch.arange(4) % {num_classes}  # class {num_classes} is the "no class" label used for guidance
size, channels = unet.config.sample_size, unet.config.in_channels
sample = torch.randn(4, channels, size, size, generator=torch.manual_seed(0))
with torch.no_grad():
    for t in scheduler.timesteps:
        noise_pred = unet(sample, t, class_labels=labels).sample
        sample = scheduler.step(noise_pred, t, sample).prev_sample
images = (sample / 2 + 0.5).clamp(0, 1)  # NCHW in [0, 1]
```"""


def _yaml(value: Any) -> str:
    return json.dumps(value)  # a JSON scalar or list is valid YAML


def model_card(
    params: TrainingParams, card: Mapping[str, Any] | None = None, *, steps: int, mixed_precision: str,
    num_classes: int | None = None,
) -> str:
    """Markdown with hub-style YAML metadata; ``card`` names the dataset, the base model and any other lineage."""
    card = dict(card or {})
    conditional = num_classes is not None
    base_model, dataset = card.get("base_model"), card.get("dataset")
    tags = ["diffusers", "pytorch", "ddpm", "class-conditional-image-generation" if conditional
            else "unconditional-image-generation"]
    front = ["---", "library_name: diffusers", f"tags: {_yaml(tags)}"]
    if base_model:
        front.append(f"base_model: {_yaml(str(base_model))}")
    if isinstance(dataset, str):
        front.append(f"datasets: {_yaml([dataset])}")
    front.append("---")
    name = card.get("name") or ("Fine-tuned" if base_model else "Trained") + " DDPM"
    kind = f"class-conditional ({num_classes} classes)" if conditional else "unconditional"
    origin = "fine-tuned" if base_model else "trained from scratch"
    plural = "s" if params.channels > 1 else ""
    summary = (f"A {kind} `UNet2DModel` with a `DDPMScheduler`, {params.image_size}×{params.image_size} pixels, "
               f"{params.channels} channel{plural}, {origin} for {steps} steps.")
    lines = [*front, "", f"# {name}", "", card.get("description") or summary, "", "## Lineage", "",
             f"- Dataset: {_describe(dataset) if dataset is not None else 'not recorded'}",
             f"- Base model: {_describe(base_model) if base_model else 'none (trained from scratch)'}"]
    if conditional and card.get("class_names"):
        lines.append(f"- Classes: {', '.join(f'{i} = {n}' for i, n in enumerate(card['class_names']))}")
    lines += [f"- {key.replace('_', ' ').capitalize()}: {_describe(value)}"
              for key, value in card.items() if key not in KNOWN]
    lines += [f"- Weights: {'EMA of the training weights' if params.use_ema else 'the final training weights'}",
              f"- Mixed precision used: {mixed_precision}"
              + (f" (asked for {params.mixed_precision}, not supported on the device)"
                 if mixed_precision != params.mixed_precision else ""),
              "", "## Hyperparameters", "", "| name | value |", "|---|---|"]
    hyperparameters = card.get("hyperparameters") or params.to_dict()
    lines += [f"| {key} | `{_describe(value)}` |" for key, value in hyperparameters.items()]
    lines += ["", "## Usage", "", CONDITIONAL_USAGE.format(num_classes=num_classes) if conditional
              else UNCONDITIONAL_USAGE, ""]
    return "\n".join(lines)


def _describe(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
