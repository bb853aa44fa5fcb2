"""Guidance pieces in the one loop: color guidance works, classifier-free guidance changes the result, previews."""

import pytest
import torch
from diffusers import DDPMScheduler

from services.sampling.guidance import Guidance, LossGuide, color_loss, predicted_x0, time_weight
from services.sampling.loop import denoise, initial_noise
from services.sampling.schedulers import build_scheduler
from tests.factories import tiny_unet

BASE = dict(DDPMScheduler(num_train_timesteps=1000).config)
TARGET = (0.1, 0.9, 0.5)  # the course's color


@pytest.fixture(scope="module")
def unet():
    return tiny_unet().eval().requires_grad_(False)


def run(unet, guidance: Guidance | None, seed: int = 0, class_labels=None, model=None) -> torch.Tensor:
    model = model or unet
    generator = torch.Generator().manual_seed(seed)
    noise = initial_noise(2, model.config.in_channels, 16, generator)
    return denoise(model, build_scheduler("ddim", BASE), noise, num_inference_steps=20, generator=generator,
                   class_labels=class_labels, guidance=guidance)


def distance_to_target(images: torch.Tensor) -> float:
    mean_rgb = ((images.clamp(-1, 1) + 1) / 2).mean(dim=(0, 2, 3))
    return float((mean_rgb - torch.tensor(TARGET)).abs().mean())


@pytest.mark.parametrize("through", ["x0", "unet"])
def test_color_guidance_moves_the_mean_color_towards_the_target_more_with_a_larger_scale(unet, through) -> None:
    def guided(scale: float) -> float:
        guide = LossGuide(loss=lambda x0: color_loss(x0, TARGET), scale=scale)
        return distance_to_target(run(unet, Guidance(guides=[guide], through=through)))

    plain = distance_to_target(run(unet, None))
    assert guided(5) < plain
    assert guided(40) < guided(5)


def test_predicted_x0_inverts_the_forward_process() -> None:
    scheduler = build_scheduler("ddpm", BASE)
    clean, noise = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    timestep = torch.tensor([500])
    noisy = scheduler.add_noise(clean, noise, timestep)
    assert torch.allclose(predicted_x0(scheduler, noisy, noise, 500), clean, atol=1e-4)


def test_time_weights() -> None:
    alpha_bar = torch.tensor(0.25)
    assert float(time_weight("sqrt_alpha_bar", alpha_bar)) == 0.5
    assert float(time_weight("alpha_bar", alpha_bar)) == 0.25
    assert float(time_weight("sqrt_one_minus_alpha_bar", alpha_bar)) == pytest.approx(0.75**0.5)
    assert float(time_weight("none", alpha_bar)) == 1.0


def test_guide_applied_every_n_steps_only() -> None:
    guide = LossGuide(loss=lambda x0: x0.sum(), scale=1.0, every=5)
    assert [i for i in range(12) if guide.applies(i)] == [0, 5, 10]


def test_classifier_free_guidance_changes_the_result_and_scale_one_is_conditional_sampling() -> None:
    model = tiny_unet(num_class_embeds=5).eval().requires_grad_(False)
    labels = torch.tensor([1, 3])
    conditional = run(None, None, class_labels=labels, model=model)
    scale_one = run(None, Guidance(cfg_scale=1.0, null_label=4), class_labels=labels, model=model)
    guided = run(None, Guidance(cfg_scale=3.0, null_label=4), class_labels=labels, model=model)
    assert torch.equal(conditional, scale_one)
    assert not torch.allclose(conditional, guided)


def test_clip_guidance_runs_in_the_loop_changes_the_result_and_lowers_the_clip_loss(unet, tmp_path) -> None:
    from services.sampling.clip import ClipGuide
    from services.sampling.steering import build_guidance
    from tests.clip_factory import save_tiny_clip

    folder = save_tiny_clip(tmp_path / "clip")

    class OneClip:
        def get(self, location, device, cache_dir=None):
            return ClipGuide.load(location, device)

    params = {"seed": 0, "clip_guidance": {"prompt": "a red apple", "scale": 2000.0, "num_cuts": 4, "every": 1,
                                           "weighting": "none"}}
    guidance = build_guidance(params, None, device=torch.device("cpu"), clip_cache=OneClip(), clip_model=str(folder))
    guided, plain = run(unet, guidance), run(unet, None)
    assert not torch.allclose(guided, plain)
    judge = ClipGuide.load(folder, torch.device("cpu"))
    text = judge.text_features("a red apple")

    def clip_loss(images: torch.Tensor) -> float:
        return float(judge.loss(images.clamp(-1, 1), text, 16, generator=torch.Generator().manual_seed(7)))

    assert clip_loss(guided) < clip_loss(plain)
