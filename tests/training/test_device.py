"""Device choice and autocast."""

from __future__ import annotations

import pytest
import torch

from traincraft.errors import RecipeError
from traincraft.training import autocast_context, pick_device
from traincraft.training.device import resolve_precision


def test_cpu_and_auto():
    assert pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_recipe_error_with_advice():
    with pytest.raises(
        RecipeError, match=r"train.device is 'cuda' but no CUDA GPU is usable: .* set train.device: auto"
    ):
        pick_device("cuda")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_mps_without_apple_silicon_is_a_recipe_error():
    with pytest.raises(RecipeError, match="MPS backend is not available"):
        pick_device("mps")


def test_unknown_device_and_precision():
    with pytest.raises(RecipeError, match="train.device is 'tpu'; allowed: auto, cpu, cuda, mps"):
        pick_device("tpu")
    with pytest.raises(RecipeError, match="train.precision is 'fp16'"):
        resolve_precision(torch.device("cpu"), "fp16")


def test_cpu_autocast_is_fp32_unless_bf16_is_asked_for():
    cpu = torch.device("cpu")
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    assert resolve_precision(cpu, "auto") == "fp32"
    with autocast_context(cpu, "auto"):
        assert (a @ b).dtype == torch.float32
    with autocast_context(cpu, "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast_context(cpu, "fp32"):
        assert (a @ b).dtype == torch.float32
