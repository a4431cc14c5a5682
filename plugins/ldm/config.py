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

from zoo.plugins.nn.sd_vae import SCENES_AUTOENCODER, SCENES_AUTOENCODER_64
from zoo.registry.contracts import FamilyConfig

UNTRAINED = "untrained"  # ``autoencoder`` value: train on the config's own, untrained autoencoder


# 32x32 scenes: (4, 8, 8) latents of a klvae-scenes autoencoder (factor 4), a two-level
# U-Net that cross-attends at both levels, a two-layer text transformer trained with it
SCENES: dict[str, Any] = {
    "example_prompt": "a large red circle in the center",
    "unet": {
        "sample_size": 8,
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "block_out_channels": [64, 128],
        "layers_per_block": 1,
        "norm_num_groups": 16,
        "cross_attention_dim": 64,
        "attention_head_dim": 4,
    },
    # the shape the autoencoder must have; training copies the klvae model's config here
    "vae": {**SCENES_AUTOENCODER, "sample_size": 32},
    # vocab_size: 514 byte tokens + up to 400 learned merges fit; the ids of the start and
    # end tokens are set from the learned vocabulary
    "text_encoder": {
        "vocab_size": 1024,
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 32,
        "hidden_act": "gelu",
        "bos_token_id": 512,
        "eos_token_id": 513,
        "pad_token_id": 513,
    },
    # cosine (improved DDPM): alpha_bar_T ~ 0, so training's last step is the pure noise
    # sampling starts from (Stable Diffusion's scaled_linear leaves alpha_bar_T = 0.0047,
    # a visible share of signal in 8x8 latents)
    "scheduler": {
        "num_train_timesteps": 1000,
        "beta_schedule": "squaredcos_cap_v2",
        "prediction_type": "epsilon",
    },
    "default_steps": 50,
    "default_guidance": 3.0,
}
# 64x64 scenes: the same U-Net and text encoder on the same (4, 8, 8) latents, from a
# klvae scenes-64 autoencoder (factor 8)
SCENES_64: dict[str, Any] = {**SCENES, "vae": {**SCENES_AUTOENCODER_64, "sample_size": 64}}


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
    example_prompt: str = Field(
        default="a photograph of an astronaut riding a horse",
        max_length=300,
        description="the prompt of the card's samples.png and of `zoo bench`",
    )
    # training (plugins/ldm/train.py); a diffusers repo leaves these at their defaults
    autoencoder: str | None = Field(
        default=None,
        description=(
            "training only: the trained klvae model (id, folder or hf:org/name) whose "
            "autoencoder is frozen and copied into this model (config and weights); "
            f"'{UNTRAINED}' keeps the config's randomly initialised one (tests); a trained "
            "model has null here, its autoencoder being its own"
        ),
    )
    tokenizer_merges: int = Field(
        default=400,
        ge=0,
        le=100_000,
        description="BPE merges learned from the training captions (text_encoder.vocab_size "
        "must hold 514 + this many tokens)",
    )
    caption_dropout: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="probability a training caption is replaced by the empty prompt (the null "
        "condition of classifier-free guidance)",
    )
    lr: float = Field(default=5e-4, gt=0, le=1, description="AdamW learning rate (U-Net and text)")
    weight_decay: float = Field(default=0.0, ge=0, le=1, description="AdamW weight decay")
    warmup_steps: int = Field(default=100, ge=0, description="linear LR warm-up")
    ema_decay: float = Field(default=0.999, ge=0, lt=1, description="EMA decay (warmed up)")
    batch_size: int = Field(default=32, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=6000, ge=1, description="training steps")
    # components of a diffusers repo the zoo does not run: accepted and ignored
    safety_checker: Any = Field(default=None, description="not used (no safety checker runs)")
    feature_extractor: Any = Field(default=None, description="not used")
    image_encoder: Any = Field(default=None, description="not used")
    requires_safety_checker: Any = Field(default=None, description="not used")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # a few channels at 16x16 (8x8 latents): for tests and the contract checks; the text
        # encoder reads a byte-level vocabulary (514 tokens: no merges) until a tokenizer
        # folder is read or training learns one (up to 40 merges: 554 tokens)
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
                "vocab_size": 560,
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
            "autoencoder": UNTRAINED,  # the contract checks train without a klvae model
            "tokenizer_merges": 40,
            "batch_size": 4,
            "steps": 3,
            "warmup_steps": 0,
        },
        "default": SCENES,
        "scenes": SCENES,
        "scenes-64": SCENES_64,
    }

    @property
    def image_size(self) -> int:
        """Side of the images it draws (and trains on): the U-Net's latent side times the
        autoencoder's factor 2 ** (levels - 1); 64 latents when the U-Net does not say."""
        size = self.unet.get("sample_size")
        side = size if isinstance(size, int) else 64
        return side * 2 ** (len(self.vae.get("block_out_channels", (64,))) - 1)

    @property
    def channels(self) -> int:
        """Image channels (the autoencoder's)."""
        return int(self.vae.get("in_channels", 3))
