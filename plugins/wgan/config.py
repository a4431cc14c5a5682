"""WGAN configuration: DCGAN-sized networks and the critic's training settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from zoo.plugins.nn.gan_config import ConvGANConfig


class WGANConfig(ConvGANConfig):
    """A Wasserstein GAN. The field defaults are the shipped model.

    One training step is one critic update; the generator is updated after every
    ``n_critic`` of them, so ``steps`` = n_critic x generator updates.
    """

    lipschitz: Literal["gp", "clip"] = Field(
        default="gp",
        description="how the critic is kept 1-Lipschitz: gradient penalty or weight clipping",
    )
    gp_weight: float = Field(
        default=10.0, ge=0, le=1000, description="lambda of the gradient penalty"
    )
    clip_value: float = Field(
        default=0.01, gt=0, le=1, description="weight clipping bound c (lipschitz='clip')"
    )
    n_critic: int = Field(
        default=5, ge=1, le=100, description="critic updates per generator update"
    )
    lr: float = Field(
        default=1e-4, gt=0, le=1, description="learning rate (Adam; RMSprop when clipping)"
    )
    betas: tuple[float, float] = Field(default=(0.0, 0.9), description="Adam betas (gp)")
    steps: int = Field(default=7_500, ge=1, description="critic updates (n_critic per G update)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "latent_dim": 8,
            "g_channels": 4,
            "d_channels": 4,
            "batch_size": 8,
            "n_critic": 2,
            "steps": 4,
        },
        "clip": {"lipschitz": "clip", "lr": 5e-5},
        "default": {},
    }
