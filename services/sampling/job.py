"""A sample job: load the model, run the loop, write one image per sample plus a grid."""

from pathlib import Path
from typing import Any

import torch

from services.artifacts import ArtifactStore, media_type_for
from services.db import session_scope
from services.db.models import Artifact, Job, Model
from services.jobs.runner import JobContext, JobError, WorkResult
from services.sampling.cache import ModelCache
from services.sampling.images import encode, grid, to_pil
from services.sampling.loop import denoise, initial_noise
from services.sampling.schedulers import build_scheduler
from services.sampling.steering import PreviewWriter, build_guidance


def model_location(model: Model, store: ArtifactStore) -> str | Path:
    """Where the model's files are: its folder in the store, or its hub id."""
    return store.resolve(model.path) if model.path else model.source


def job_model(job: Job) -> Model:
    """The registered model a sample job names; it may have been deleted since the job was accepted."""
    with session_scope() as session:
        model = session.get(Model, job.input["model_id"])
    if model is None:
        raise JobError(f"model {job.input['model_id']} no longer exists")
    return model


def run_sample_job(
    context: JobContext, *, store: ArtifactStore, cache: ModelCache, device: torch.device,
    hub_cache_dir: Path | None = None, clip_cache: Any = None, clip_model: str = "",
) -> WorkResult:
    """Run the job's sampling and return its (not yet recorded) artifacts; files are already in place."""
    job, reporter = context.job, context.reporter
    params: dict[str, Any] = job.input
    model = job_model(job)
    loaded = cache.get(model.id, model_location(model, store), device, hub_cache_dir)
    scheduler = build_scheduler(params["scheduler"], loaded.scheduler_config)
    config = loaded.unet.config
    generator = torch.Generator("cpu").manual_seed(params["seed"])
    noise = initial_noise(params["num_images"], config.in_channels, config.sample_size, generator)
    labels = params.get("class_labels")
    guidance = build_guidance(params, config.num_class_embeds, device=device, clip_cache=clip_cache,
                              clip_model=clip_model, hub_cache_dir=hub_cache_dir)
    samples = denoise(
        loaded.unet, scheduler, noise,
        num_inference_steps=params["num_inference_steps"], generator=generator, eta=params.get("eta"),
        class_labels=torch.tensor(labels, device=device) if labels is not None else None, guidance=guidance,
        on_step=reporter.update, on_x0=PreviewWriter(job, store, reporter, params.get("preview_every", 0)),
    )
    images = to_pil(samples)
    output_format = params["output_format"]
    folder = context.folder
    common = {"seed": params["seed"], "scheduler": params["scheduler"], "width": images[0].width,
              "height": images[0].height}
    outputs = [
        (f"{folder}/image-{i:03d}.{output_format}", "image", image,
         {"index": i, **({"class_label": labels[i]} if labels is not None else {})})
        for i, image in enumerate(images)
    ]
    outputs.append((f"{folder}/grid.{output_format}", "grid", grid(images), {"count": len(images)}))
    artifacts = []
    for relative, kind, image, meta in outputs:
        data = encode(image, output_format)
        store.write_bytes(relative, data)
        artifacts.append(Artifact(
            owner=job.owner, job_id=job.id, kind=kind, media_type=media_type_for(relative), path=relative,
            size_bytes=len(data), meta={**common, **meta, "width": image.width, "height": image.height},
        ))
    return WorkResult(artifacts)
