"""The schedulers a sample job may name. Plain data: the API reads it without importing diffusers."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SchedulerSpec:
    name: str
    class_name: str
    description: str
    accepts_eta: bool = False
    stochastic: bool = False
    # Loss guidance calls step() more than once per timestep, so it needs a step that keeps no state.
    stateless_step: bool = False


SCHEDULERS: dict[str, SchedulerSpec] = {
    spec.name: spec
    for spec in (
        SchedulerSpec("ddpm", "DDPMScheduler", "Ancestral DDPM sampling; needs many steps (hundreds).",
                      stochastic=True, stateless_step=True),
        SchedulerSpec("ddim", "DDIMScheduler", "DDIM: deterministic at eta=0, good in 20-100 steps.",
                      accepts_eta=True, stateless_step=True),
        SchedulerSpec("pndm", "PNDMScheduler", "Pseudo numerical methods (PLMS), good in ~50 steps."),
        SchedulerSpec("dpm_solver_multistep", "DPMSolverMultistepScheduler",
                      "DPM-Solver++ multistep: good in 10-25 steps."),
        SchedulerSpec("unipc", "UniPCMultistepScheduler", "UniPC multistep predictor-corrector: 10-25 steps."),
        SchedulerSpec("euler", "EulerDiscreteScheduler", "Euler (Karras et al.) on sigmas."),
        SchedulerSpec("euler_ancestral", "EulerAncestralDiscreteScheduler",
                      "Euler with ancestral noise; varies with the seed at every step.", stochastic=True),
        SchedulerSpec("heun", "HeunDiscreteScheduler", "Heun's 2nd-order method: two model calls per step."),
    )
}

DEFAULT_SCHEDULER = "ddim"
