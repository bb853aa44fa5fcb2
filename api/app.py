"""The application factory: ``uvicorn api.app:app``."""

import logging

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import artifacts, datasets, health, jobs, models, samples, schedulers, trainings, webhooks

DESCRIPTION = """Run Hugging Face Diffusers work as jobs: sample images from registered models, poll the job,
download its artifacts. Jobs are queued to workers; every job is a row you can read at `/v1/jobs/{id}`."""


def create_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = FastAPI(title="diffusion-jobs", version="0.1.0", description=DESCRIPTION)
    install_error_handlers(app)
    for module in (health, samples, trainings, jobs, webhooks, artifacts, models, datasets, schedulers):
        app.include_router(module.router)
    return app


app = create_app()
