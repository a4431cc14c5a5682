"""The ldm family's config: one block per component, as a diffusers repo lays them out.

A Stable Diffusion repo in diffusers' layout needs no zoo card: the app reads its
``model_index.json`` and puts each component's config.json under the component's name
(``unet``, ``vae``, ``text_encoder``, ``tokenizer``, ``scheduler``). A model trained by the
zoo writes the same blocks into its own config.json. Parsed lazily by the model (the
component configs are validated by their networks' own config classes).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zoo.registry.contracts import FamilyConfig


class LDMConfig(FamilyConfig):
    unet: dict[str, Any] = Field(description="the U-Net's diffusers config (unet/config.json)")
    vae: dict[str, Any] = Field(description="the autoencoder's config (vae/config.json)")
    text_encoder: dict[str, Any] = Field(description="the CLIP text encoder's config")
    scheduler: dict[str, Any] = Field(
        default_factory=dict, description="the noise schedule (scheduler_config.json)"
    )
    tokenizer: dict[str, Any] = Field(
        default_factory=dict, description="tokenizer_config.json (max length, pad token)"
    )
    default_steps: int = Field(default=50, ge=1, le=1000, description="steps when none given")
    default_guidance: float = Field(default=7.5, ge=0, le=100, description="guidance scale")
    # components of a diffusers repo the zoo does not run: accepted and ignored
    safety_checker: Any = Field(default=None, description="not used (no safety checker runs)")
    feature_extractor: Any = Field(default=None, description="not used")
    image_encoder: Any = Field(default=None, description="not used")
    requires_safety_checker: Any = Field(default=None, description="not used")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # a few channels at 16x16 (8x8 latents): for tests and the contract checks; the text
        # encoder reads a byte-level vocabulary (514 tokens: no merges) until a tokenizer
        # folder is read
        "tiny": {
            "unet": {
                "sample_size": 8,
                "in_channels": 4,
                "out_channels": 4,
                "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
                "block_out_channels": [16, 32],
                "layers_per_block": 1,
                "norm_num_groups": 8,
                "cross_attention_dim": 32,
                "attention_head_dim": 2,
            },
            "vae": {
                "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
                "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
                "block_out_channels": [16, 16],
                "layers_per_block": 1,
                "norm_num_groups": 8,
                "latent_channels": 4,
            },
            "text_encoder": {
                "vocab_size": 514,
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "max_position_embeddings": 77,
                "bos_token_id": 512,
                "eos_token_id": 513,
                "pad_token_id": 513,
            },
            "scheduler": {
                "beta_schedule": "scaled_linear",
                "beta_start": 0.00085,
                "beta_end": 0.012,
            },
            "default_steps": 4,
        }
    }
