"""A training job: load the data and base model, run the loop, register the model it made."""

from pathlib import Path

import torch
from diffusers import UNet2DModel

from services.artifacts import ArtifactStore
from services.datasets.loading import load_dataset_images
from services.db import session_scope
from services.db.models import Job, Model, new_id
from services.jobs.artifacts import artifact_for, forget_missing, record_now
from services.jobs.runner import JobContext, JobError, WorkResult
from services.registry import inspect_folder, new_model_row
from services.sampling.job import model_location
from services.training.loop import train
from services.training.params import TrainingParams
from services.training.submit import PARAM_FIELDS


def training_dir(job: Job) -> str:
    """Kept across attempts, so a re-delivered job resumes from its checkpoints."""
    return f"jobs/{job.id}/train"


def _base_unet(job: Job, store: ArtifactStore) -> UNet2DModel | None:
    if not job.input.get("base_model"):
        return None
    with session_scope() as session:
        base = session.get(Model, job.input["base_model"])
    if base is None:
        raise JobError(f"base model {job.input['base_model']} no longer exists")
    return UNet2DModel.from_pretrained(model_location(base, store), subfolder="unet")


def run_training_job(context: JobContext, *, store: ArtifactStore, device: torch.device) -> WorkResult:
    """Train, resuming from this job's latest checkpoint if an earlier attempt left one."""
    job = context.job
    params = TrainingParams.from_dict({k: v for k, v in job.input.items() if k in PARAM_FIELDS})
    data, class_names = load_dataset_images(job.input["dataset_id"], job.owner, store, params.image_size,
                                            params.channels)
    workdir = store.resolve(training_dir(job))
    lineage = {"dataset": job.input["dataset_id"], "base_model": job.input.get("base_model"),
               "training_job": job.id, "hyperparameters": params.to_dict(), "class_names": class_names}

    def on_samples(step: int, path: Path) -> None:
        record_now(artifact_for(job, store, path, "grid", step=step))

    def on_checkpoint(step: int, path: Path) -> None:
        record_now(artifact_for(job, store, path, "checkpoint", step=step))
        forget_missing(job.id, "checkpoint", store)  # older ones were pruned to the latest few

    # A cancel raises JobCanceled out of train() after it saved a checkpoint, which on_checkpoint recorded.
    result = train(params, data, workdir, context.reporter, device, base_unet=_base_unet(job, store),
                   card={"name": job.input.get("name"), **lineage}, on_samples=on_samples,
                   on_checkpoint=on_checkpoint)
    context.reporter.note(resumed_from_step=result.started_from_step)
    model_id = new_id()
    model_path = store.copy_tree(result.model_dir, f"models/{model_id}")
    model = new_model_row(
        owner=job.owner, name=job.input.get("name") or f"trained-{job.id[:8]}", source_type="job", source=job.id,
        path=f"models/{model_id}", info=inspect_folder(model_path), model_id=model_id,
        meta={"dataset_id": job.input["dataset_id"], "base_model": job.input.get("base_model"),
              "training_job": job.id, "steps": result.steps, "resumed_from_step": result.started_from_step,
              "device": result.device, "mixed_precision": result.mixed_precision, "class_names": class_names,
              "hyperparameters": params.to_dict()},
    )
    artifacts = [
        artifact_for(job, store, workdir / "metrics.csv", "metrics", steps=result.steps),
        artifact_for(job, store, workdir / "loss.png", "plot"),
        artifact_for(job, store, model_path, "model", model_id=model_id),
    ]
    return WorkResult(artifacts, model=model)
