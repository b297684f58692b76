#!/usr/bin/env python3
"""Reference trajectories of diffusers' schedulers, for `crates/diffusion/tests/schedulers_vs_diffusers.rs`.

A developer tool, not run by CI: the fixtures it writes are committed. It needs torch, diffusers,
numpy, scipy (LMS) and torchsde (DPM-SDE), best in a throw-away venv outside the repository:

    python3 -m venv /tmp/diffusers-venv
    /tmp/diffusers-venv/bin/pip install torch diffusers numpy scipy torchsde
    /tmp/diffusers-venv/bin/python tools/scheduler_fixtures.py

For every onnx-web scheduler it runs diffusers' class, built with `from_config` from Stable
Diffusion 1.5's scheduler config after the SD pipelines' fix-ups (steps_offset 1, clip_sample
false), over a fixed fake model and fixed noise, and writes one JSON file per scheduler to
`crates/diffusion/tests/fixtures/schedulers/<name>.json` with, per case: the config, the
timesteps, the sigmas (where the class has them), init_noise_sigma, the input scale of every model
call, the initial N(0, 1) latents, every noise tensor the scheduler drew (in order) and the sample
after every step.

The fake model is `out[i] = 0.1 * x[i] + sin(t / 100 + 0.1 * i)` over the scaled model input `x`
and the timestep `t` (computed in float64, rounded to float32), read as epsilon or as v depending on
the case's prediction_type. Noise: `randn_tensor` is replaced in the scheduler modules by a function
that returns seeded numpy normals and records them; DPM-SDE's Brownian-tree noise sampler is
replaced by the same source (one N(0, 1) tensor per call, which is what the Brownian increment
divided by sqrt(|t1 - t0|) is distributed as).
"""

import importlib
import json
import math
import os
import sys

import numpy as np
import torch

import diffusers

SHAPE = (2, 4, 2, 4)

# stable-diffusion-v1-5/scheduler/scheduler_config.json, after the SD pipelines' fix-ups.
SD15 = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}
# models/diffusion-tiny-demo/scheduler/scheduler_config.json says timestep_spacing "leading".
DEMO = dict(SD15, prediction_type="epsilon", timestep_spacing="leading")

# onnx-web name, diffusers class, module, reads prediction_type, reads timestep_spacing,
# reads use_karras_sigmas, extra cases (name, config overrides).
SCHEDULERS = [
    ("ddim", "DDIMScheduler", "scheduling_ddim", True, True, False, [
        ("trailing-10", {"timestep_spacing": "trailing"}),
    ]),
    ("ddpm", "DDPMScheduler", "scheduling_ddpm", True, True, False, [
        ("linspace-10", {"timestep_spacing": "linspace"}),
        ("fixed-large-10", {"variance_type": "fixed_large"}),
    ]),
    ("deis-multi", "DEISMultistepScheduler", "scheduling_deis_multistep", True, True, True, [
        ("order3-10", {"solver_order": 3}),
        ("order3-25", {"solver_order": 3}),
        ("trailing-10", {"timestep_spacing": "trailing"}),
    ]),
    ("dpm-multi", "DPMSolverMultistepScheduler", "scheduling_dpmsolver_multistep", True, True, True, [
        ("order3-10", {"solver_order": 3}),
        ("order3-25", {"solver_order": 3}),
        ("heun-10", {"solver_type": "heun"}),
        ("sde-10", {"algorithm_type": "sde-dpmsolver++"}),
        ("sde-order3-10", {"algorithm_type": "sde-dpmsolver++", "solver_order": 3}),
        ("dpmsolver-10", {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"}),
        ("dpmsolver-order3-25", {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min", "solver_order": 3}),
        ("sigma-min-10", {"final_sigmas_type": "sigma_min"}),
        ("euler-at-final-25", {"euler_at_final": True}),
        ("trailing-10", {"timestep_spacing": "trailing"}),
        ("karras-sde-10", {"use_karras_sigmas": True, "algorithm_type": "sde-dpmsolver++"}),
    ]),
    ("dpm-sde", "DPMSolverSDEScheduler", "scheduling_dpmsolver_sde", True, True, True, [
        ("trailing-10", {"timestep_spacing": "trailing"}),
    ]),
    ("dpm-single", "DPMSolverSinglestepScheduler", "scheduling_dpmsolver_singlestep", True, False, True, [
        ("order3-10", {"solver_order": 3}),
        ("order3-25", {"solver_order": 3}),
        ("order3-11", {"solver_order": 3}),
        ("heun-order3-10", {"solver_order": 3, "solver_type": "heun"}),
        ("sde-10", {"algorithm_type": "sde-dpmsolver++"}),
        ("dpmsolver-10", {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"}),
        ("dpmsolver-order3-9", {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min", "solver_order": 3}),
    ]),
    ("euler", "EulerDiscreteScheduler", "scheduling_euler_discrete", True, True, True, []),
    ("euler-a", "EulerAncestralDiscreteScheduler", "scheduling_euler_ancestral_discrete", True, True, False, []),
    ("heun", "HeunDiscreteScheduler", "scheduling_heun_discrete", True, True, True, [
        ("trailing-10", {"timestep_spacing": "trailing"}),
    ]),
    ("ipndm", "IPNDMScheduler", "scheduling_ipndm", False, False, False, []),
    ("k-dpm-2-a", "KDPM2AncestralDiscreteScheduler", "scheduling_k_dpm_2_ancestral_discrete", True, True, True, []),
    ("k-dpm-2", "KDPM2DiscreteScheduler", "scheduling_k_dpm_2_discrete", True, True, True, []),
    ("lcm", "LCMScheduler", "scheduling_lcm", True, False, False, [
        ("original-20-4", {"original_inference_steps": 20}),
    ]),
    ("lms-discrete", "LMSDiscreteScheduler", "scheduling_lms_discrete", True, True, True, []),
    ("pndm", "PNDMScheduler", "scheduling_pndm", True, True, False, [
        ("prk-10", {"skip_prk_steps": False}),
    ]),
    ("unipc-multi", "UniPCMultistepScheduler", "scheduling_unipc_multistep", True, True, True, [
        ("order3-10", {"solver_order": 3}),
        ("order3-25", {"solver_order": 3}),
        # bh1 with a final sigma of 0 gives NaN in diffusers (B_h = -inf times 0).
        ("bh1-10", {"solver_type": "bh1", "final_sigmas_type": "sigma_min"}),
        ("bh1-order3-10", {"solver_type": "bh1", "solver_order": 3, "final_sigmas_type": "sigma_min"}),
        ("x0-off-10", {"predict_x0": False, "final_sigmas_type": "sigma_min"}),
        ("sigma-min-10", {"final_sigmas_type": "sigma_min"}),
        ("karras-sigma-min-10", {"use_karras_sigmas": True, "final_sigmas_type": "sigma_min"}),
        ("no-corrector-2-10", {"disable_corrector": [2]}),
    ]),
]


class NoiseLog:
    """Seeded N(0, 1) tensors, recorded in the order the scheduler asks for them."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.drawn = []

    def draw(self, shape, dtype=torch.float32):
        value = self.rng.standard_normal(tuple(shape)).astype(np.float32)
        self.drawn.append(value.ravel())
        return torch.from_numpy(value).to(dtype)


CURRENT = {"noise": None}


def fake_randn_tensor(shape, generator=None, device=None, dtype=None, layout=None, **_):
    return CURRENT["noise"].draw(shape, dtype or torch.float32)


def fake_model(x, t):
    flat = x.detach().to(torch.float64).numpy().ravel()
    index = np.arange(flat.size, dtype=np.float64)
    out = 0.1 * flat + np.sin(float(t) / 100.0 + 0.1 * index)
    return torch.from_numpy(out.astype(np.float32).reshape(x.shape))


def f32_list(values):
    return [float(str(np.float32(v))) for v in np.asarray(values, dtype=np.float32).ravel()]


def run_case(module_name, class_name, config, steps, seed):
    module = importlib.import_module(f"diffusers.schedulers.{module_name}")
    if hasattr(module, "randn_tensor"):
        module.randn_tensor = fake_randn_tensor
    cls = getattr(diffusers, class_name)
    scheduler = cls.from_config(config)
    noise = NoiseLog(seed + 1)
    CURRENT["noise"] = noise
    scheduler.set_timesteps(steps)
    if class_name == "DPMSolverSDEScheduler":
        scheduler.noise_sampler = lambda sigma, sigma_next: noise.draw(SHAPE)

    initial = np.random.RandomState(seed).standard_normal(SHAPE).astype(np.float32)
    init_sigma = scheduler.init_noise_sigma
    sample = torch.from_numpy(initial) * init_sigma
    timesteps = [float(t) for t in scheduler.timesteps]
    sigmas = None
    if hasattr(scheduler, "sigmas") and isinstance(scheduler.sigmas, torch.Tensor) and scheduler.sigmas.dim() == 1:
        sigmas = [float(s) for s in scheduler.sigmas]

    scales, samples = [], []
    for t in scheduler.timesteps:
        ones = torch.ones(SHAPE, dtype=torch.float32)
        scales.append(float(scheduler.scale_model_input(ones, t).ravel()[0]))
        model_input = scheduler.scale_model_input(sample, t)
        output = fake_model(model_input, t)
        sample = scheduler.step(output, t, sample).prev_sample
        samples.append(f32_list(sample.numpy()))
        if not np.all(np.isfinite(sample.numpy())):
            raise RuntimeError(f"{class_name} {config} steps={steps}: non-finite sample")

    return {
        "steps": steps,
        "timesteps": timesteps,
        "sigmas": sigmas,
        "init_noise_sigma": float(init_sigma),
        "input_scales": scales,
        "initial": f32_list(initial),
        "noise": [f32_list(n) for n in noise.drawn],
        "samples": samples,
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.join(root, "crates", "diffusion", "tests", "fixtures", "schedulers")
    os.makedirs(out_dir, exist_ok=True)
    only = set(sys.argv[1:])
    for name, class_name, module, reads_prediction, reads_spacing, karras, extras in SCHEDULERS:
        if only and name not in only:
            continue
        cases = []
        plan = [(f"epsilon-{n}", SD15, n) for n in (4, 10, 25)]
        if reads_prediction:
            v = dict(SD15, prediction_type="v_prediction")
            plan += [(f"v-prediction-{n}", v, n) for n in (4, 10)]
        if reads_spacing:
            plan.append(("demo-leading-10", DEMO, 10))
        if karras:
            plan.append(("karras-10", dict(SD15, use_karras_sigmas=True), 10))
            if reads_prediction:
                plan.append(("karras-v-prediction-4", dict(SD15, use_karras_sigmas=True, prediction_type="v_prediction"), 4))
        for case_name, overrides in extras:
            steps = int(case_name.rsplit("-", 1)[1])
            plan.append((case_name, dict(SD15, **overrides), steps))
        for index, (case_name, config, steps) in enumerate(plan):
            seed = 1000 + 17 * index + sum(map(ord, name))
            case = run_case(module, class_name, config, steps, seed)
            case = {"name": case_name, "config": config, **case}
            cases.append(case)
        fixture = {
            "scheduler": name,
            "class": class_name,
            "diffusers_version": diffusers.__version__,
            "torch_version": torch.__version__,
            "shape": list(SHAPE),
            "model": "out[i] = f32(0.1 * x[i] + sin(t / 100 + 0.1 * i)), x the scaled model input",
            "cases": cases,
        }
        path = os.path.join(out_dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump(fixture, f, separators=(",", ":"))
            f.write("\n")
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
