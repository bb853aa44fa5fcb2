"""The service's own denoising loop on a tiny random UNet, against diffusers' own pipelines."""

import inspect

import diffusers
import numpy as np
import pytest
import torch
from diffusers import DDIMPipeline, DDIMScheduler, DDPMPipeline, DDPMScheduler

from services.sampling.catalog import SCHEDULERS
from services.sampling.images import grid, to_pil
from services.sampling.loop import denoise, initial_noise
from services.sampling.schedulers import build_scheduler, step_arguments
from tests.factories import tiny_unet

BASE_CONFIG = dict(DDPMScheduler(num_train_timesteps=1000).config)


@pytest.fixture(scope="module")
def unet() -> diffusers.UNet2DModel:
    return tiny_unet().eval().requires_grad_(False)


def sample(unet, scheduler_name: str, seed: int, steps: int = 10, batch: int = 2, eta: float | None = None):
    scheduler = build_scheduler(scheduler_name, BASE_CONFIG)
    generator = torch.Generator("cpu").manual_seed(seed)
    noise = initial_noise(batch, 3, 16, generator)
    return denoise(unet, scheduler, noise, num_inference_steps=steps, generator=generator, eta=eta)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_catalogued_scheduler_exists_in_diffusers_with_the_advertised_options(name: str) -> None:
    spec = SCHEDULERS[name]
    scheduler = build_scheduler(name, BASE_CONFIG)
    assert type(scheduler).__name__ == spec.class_name
    assert scheduler.config.num_train_timesteps == 1000  # configured from the model's own scheduler
    assert ("eta" in inspect.signature(scheduler.step).parameters) == spec.accepts_eta


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_samples_finite_images_and_is_repeatable(unet, name: str) -> None:
    first = sample(unet, name, seed=3)
    assert first.shape == (2, 3, 16, 16)
    assert torch.isfinite(first).all()
    assert torch.equal(first, sample(unet, name, seed=3))
    assert not torch.equal(first, sample(unet, name, seed=4))


def test_loop_reports_every_step(unet) -> None:
    seen: list[tuple[int, int]] = []
    scheduler = build_scheduler("ddim", BASE_CONFIG)
    noise = initial_noise(1, 3, 16, torch.Generator().manual_seed(0))
    denoise(unet, scheduler, noise, num_inference_steps=7, on_step=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 7) for i in range(1, 8)]


def test_ddpm_matches_diffusers_ddpm_pipeline_pixel_for_pixel(unet) -> None:
    pipeline = DDPMPipeline(unet=unet, scheduler=DDPMScheduler.from_config(BASE_CONFIG))
    expected = pipeline(batch_size=2, generator=torch.Generator().manual_seed(11), num_inference_steps=20,
                        output_type="np").images
    ours = np.stack([np.asarray(im) for im in to_pil(sample(unet, "ddpm", seed=11, steps=20))]) / 255.0
    assert np.abs(ours - expected).max() <= 1 / 255 + 1e-6


def test_ddim_with_eta_matches_diffusers_ddim_pipeline(unet) -> None:
    pipeline = DDIMPipeline(unet=unet, scheduler=DDIMScheduler.from_config(BASE_CONFIG))
    expected = pipeline(batch_size=2, generator=torch.Generator().manual_seed(5), num_inference_steps=15, eta=0.5,
                        output_type="np").images
    ours = np.stack([np.asarray(im) for im in to_pil(sample(unet, "ddim", seed=5, steps=15, eta=0.5))]) / 255.0
    assert np.abs(ours - expected).max() <= 1 / 255 + 1e-6


def test_sigma_schedulers_start_from_noise_scaled_by_init_noise_sigma(unet) -> None:
    scheduler = build_scheduler("euler", BASE_CONFIG)
    scheduler.set_timesteps(10)
    assert scheduler.init_noise_sigma > 10  # without the scaling Euler would start far too close to the data
    calls: list[torch.Tensor] = []
    original_step = scheduler.step

    def spy(model_output, timestep, sample, **kwargs):
        calls.append(sample.detach().clone())
        return original_step(model_output, timestep, sample, **kwargs)

    scheduler.step = spy
    noise = initial_noise(1, 3, 16, torch.Generator().manual_seed(0))
    denoise(unet, scheduler, noise, num_inference_steps=10)
    assert torch.allclose(calls[0], noise * scheduler.init_noise_sigma)


def test_eta_is_refused_by_a_scheduler_without_it() -> None:
    with pytest.raises(ValueError, match="no eta"):
        step_arguments(build_scheduler("euler", BASE_CONFIG), None, 0.3)


def test_grayscale_images_and_grid_shapes() -> None:
    images = to_pil(torch.zeros(5, 1, 8, 8))
    assert images[0].mode == "L" and images[0].size == (8, 8)
    assert np.asarray(images[0]).max() == 128  # 0 maps to mid-grey, rounded as diffusers does
    assert grid(images, padding=2).size == (3 * 10 + 2, 2 * 10 + 2)
