"""Sampling overhead of the service: end-to-end through the API vs. the same loop in-process, and queue latency.

    .venv/bin/python benchmarks/sample_latency.py [--runs 20] [--latency-jobs 50]

Tiny model, DDIM 50 steps, 1 image, a warm worker, PostgreSQL + Redis (started like the integration tests do).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from functools import partial

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.artifacts import ArtifactStore  # noqa: E402
from services.db import session_scope  # noqa: E402
from services.jobs.lifecycle import create_job  # noqa: E402
from services.jobs.runner import run_job  # noqa: E402
from services.jobs.states import JobKind  # noqa: E402
from services.sampling.cache import ModelCache, load_model  # noqa: E402
from services.sampling.job import run_sample_job  # noqa: E402
from services.settings import get_settings  # noqa: E402
from services.sampling.loop import denoise, initial_noise  # noqa: E402
from services.sampling.schedulers import build_scheduler  # noqa: E402
from tests.factories import save_tiny_pipeline  # noqa: E402
from tests.integration.conftest import stack_env  # noqa: E402
from tests.integration.stack import PostgresDatabase, RedisServer, Stack, wait_until  # noqa: E402

POLL_INTERVAL = 0.02
REQUEST = {"scheduler": "ddim", "num_inference_steps": 50, "num_images": 1, "seed": 0}


def in_process_once(loaded) -> float:
    scheduler = build_scheduler("ddim", loaded.scheduler_config)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    noise = initial_noise(1, 3, loaded.unet.config.sample_size, generator)
    denoise(loaded.unet, scheduler, noise, num_inference_steps=50, generator=generator)
    return time.perf_counter() - start


def through_api_once(client, model_id: str) -> tuple[float, dict]:
    start = time.perf_counter()
    job_id = client.post("/v1/samples", json={"model_id": model_id, **REQUEST}).json()["id"]
    job = wait_until(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["status"] == "succeeded" and j,
                     60, "job", interval=POLL_INTERVAL)
    return time.perf_counter() - start, job


def service_path_once(model_id: str, work) -> float:
    """The worker's whole path for one job (claim, load from cache, loop, PNGs, final transaction), in-process."""
    settings = get_settings()
    with session_scope() as session:
        job_id = create_job(session, owner="public", kind=JobKind.SAMPLE,
                            input={"model_id": model_id, **REQUEST, "eta": None, "output_format": "png"}).id
    start = time.perf_counter()
    run_job(job_id, work, settings=settings, store=ArtifactStore(settings.artifact_root), worker="bench")
    return time.perf_counter() - start


def interleaved(stack: Stack, model_dir: Path, model_id: str, runs: int) -> dict[str, list[float]]:
    """The three ways alternate, so all see the same machine; the first round warms up."""
    os.environ.update(stack.env)  # this process now reads the stack's database and artifact store
    get_settings.cache_clear()
    settings = get_settings()
    work = partial(run_sample_job, store=ArtifactStore(settings.artifact_root), cache=ModelCache(1),
                   device=torch.device("cpu"))
    loaded = load_model(model_dir, torch.device("cpu"))
    timings: dict[str, list[float]] = {"loop": [], "service": [], "api": [], "worker_run": []}
    with stack.client() as client:
        for index in range(runs + 1):
            loop_s = in_process_once(loaded)
            service_s = service_path_once(model_id, work)
            api_s, job = through_api_once(client, model_id)
            if index:
                for key, value in (("loop", loop_s), ("service", service_s), ("api", api_s),
                                   ("worker_run", job["metrics"]["run_s"])):
                    timings[key].append(value)
    return timings


def submit_to_running_ms(stack: Stack, model_id: str, jobs: int) -> list[float]:
    latencies = []
    with stack.client() as client:
        for _ in range(jobs):
            job_id = client.post("/v1/samples", json={"model_id": model_id, **REQUEST, "num_inference_steps": 1}).json()["id"]
            job = wait_until(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["status"] == "succeeded" and j,
                             60, "job", interval=0.005)
            latencies.append(job["metrics"]["queue_s"] * 1000)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--latency-jobs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_dir = save_tiny_pipeline(folder / "tiny")
        database, redis = PostgresDatabase.create(), RedisServer.start(folder)
        stack = Stack(folder=folder, env=stack_env(folder, database_url=database.url, broker_url=redis.url))
        try:
            stack.migrate()
            stack.start_api()
            stack.start_worker()
            with stack.client() as client:
                model_id = client.post("/v1/models", json={"path": str(model_dir)}).json()["id"]
            timings = interleaved(stack, model_dir, model_id, args.runs)
            latency = submit_to_running_ms(stack, model_id, args.latency_jobs)
        finally:
            stack.stop()
            redis.stop()
            database.drop()
    median = {key: statistics.median(values) for key, values in timings.items()}
    rows = [
        ("denoising loop in-process (s)", f"{median['loop']:.4f}", "median"),
        ("worker's job path in-process (s)", f"{median['service']:.4f}", "claim, cache, loop, PNGs, commit"),
        ("through the API (s)", f"{median['api']:.4f}", f"client polls every {POLL_INTERVAL}s"),
        ("  run_s reported by the job (s)", f"{median['worker_run']:.4f}", "claim to finish, in the worker process"),
        ("job path / loop", f"{median['service'] / median['loop']:.3f}", "the service's own overhead"),
        ("end-to-end / in-process loop", f"{median['api'] / median['loop']:.3f}", "goal <= 1.05"),
        ("submit -> running p50 (ms)", f"{percentile(latency, 0.5):.1f}", "goal <= 20"),
        ("submit -> running p99 (ms)", f"{percentile(latency, 0.99):.1f}", ""),
    ]
    print(f"tiny UNet, DDIM 50 steps, 1 image, {args.runs} runs; {args.latency_jobs} jobs for latency (Redis)")
    print(f"{'measure':<32}{'value':>10}  note")
    for name, value, note in rows:
        print(f"{name:<32}{value:>10}  {note}")


if __name__ == "__main__":
    main()
