"""A sample job's guidance and previews, built from its validated input."""

from pathlib import Path
from typing import Any

import torch

from services.artifacts import ArtifactStore
from services.db.models import Job
from services.jobs.artifacts import artifact_for, record_now
from services.jobs.progress import ProgressReporter
from services.sampling.guidance import Guidance, LossGuide, color_loss
from services.sampling.images import encode, grid, to_pil


def build_guidance(params: dict[str, Any], num_class_embeds: int | None, *, device: torch.device,
                   clip_cache: Any = None, clip_model: str = "", hub_cache_dir: Path | None = None) -> Guidance:
    """The Guidance for this job: CFG from guidance_scale, loss guides from color and CLIP guidance."""
    guides = []
    if color := params.get("color_guidance"):
        target = tuple(color["color"])
        guides.append(LossGuide(loss=lambda x0: color_loss(x0, target), scale=color["scale"]))
    if clip := params.get("clip_guidance"):
        guide = clip_cache.get(clip_model, device, hub_cache_dir)
        text = guide.text_features(clip["prompt"])
        # Its own stream: the cuts must not shift the noise the seed fixes.
        cuts = torch.Generator("cpu").manual_seed(params["seed"] + 1)
        guides.append(LossGuide(
            # guide.loss averages over the batch; times its size, each image is steered as if alone.
            loss=lambda x0: guide.loss(x0, text, clip["num_cuts"], generator=cuts) * x0.shape[0],
            scale=clip["scale"], every=clip["every"], weighting=clip["weighting"],
        ))
    cfg = params.get("guidance_scale")
    null_label = num_class_embeds - 1 if cfg is not None and num_class_embeds else None
    return Guidance(guides=guides, through=params.get("guidance_through", "x0"), cfg_scale=cfg, null_label=null_label)


class PreviewWriter:
    """Every N steps, a small PNG of the predicted clean images, recorded at once and named in the progress."""

    def __init__(self, job: Job, store: ArtifactStore, reporter: ProgressReporter, every: int) -> None:
        self.job, self.store, self.reporter, self.every = job, store, reporter, every

    def __call__(self, step: int, x0: torch.Tensor) -> None:
        if not self.every or step % self.every:
            return
        relative = f"jobs/{self.job.id}/previews/step-{step:04d}.png"  # outside the attempt folder: kept on failure
        path = self.store.write_bytes(relative, encode(grid(to_pil(x0.detach().clamp(-1, 1))), "png"))
        artifact_id = record_now(artifact_for(self.job, self.store, path, "preview", step=step))
        self.reporter.note(preview_artifact_id=artifact_id)
