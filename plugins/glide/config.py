"""GLIDE configuration: the text transformer, the U-Net, the schedule and the recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from zoo.plugins.nn.unet_config import UNetShapeConfig
from zoo.registry.diffusion import NoiseSchedule
from zoo.registry.options import Options

BYTE_TOKENS = 514  # CLIP's 256 byte symbols, their end-of-word forms, start and end

# a few channels at 8x8: tests and the contract checks
TINY: dict[str, Any] = {
    "image_size": 8,
    "base_channels": 8,
    "channel_mults": (1, 2),
    "attention_resolutions": (4,),
    "attention_heads": 2,
    "text_context": 24,
    "text_width": 16,
    "text_layers": 1,
    "text_heads": 2,
    "vocab_size": 560,
    "tokenizer_merges": 40,
    "schedule": {
        "num_train_timesteps": 20,
        "beta_schedule": "cosine",
        "variance_type": "learned_range",
        "clip_sample": True,
    },
    "sampling_steps": 4,
    "batch_size": 4,
    "steps": 3,
    "warmup_steps": 0,
}

# 32 -> 64 on the scenes in about 60 minutes on one CPU thread: 1.14-1.16 s per step of 16
# images measured (OMP_NUM_THREADS=1, 0.74 M parameters, a machine shared with two trainings);
# a lighter U-Net than the base's, as the low-resolution image carries the layout, with
# attention reading the text at 16x16 only; 3,000 steps show each training scene ~2.4 times
SCENES_UPSAMPLER: dict[str, Any] = {
    "image_size": 64,
    "low_res_size": 32,
    "base_channels": 24,
    "channel_mults": (1, 2, 2),
    "attention_resolutions": (16,),
    "text_width": 32,
    "text_layers": 1,
    "sampling_steps": 25,
    "steps": 3000,
    "batch_size": 16,
}


class GlideOptions(Options):
    """Sampling options of a glide model: CLIP guidance, and the cascade to its upsampler."""

    clip_scale: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description=(
            "CLIP guidance scale s: steer each step along s * grad of the card's noise-aware "
            "CLIP's similarity of x_t with --prompt (0: off; --guidance 1 gives GLIDE's "
            "CLIP-guided setup, the text-conditional model without classifier-free guidance)"
        ),
    )
    stage: Literal["cascade", "base"] | None = Field(
        default=None,
        description=(
            "'cascade': draw the base, then its card's 'upsampler' component finishes each "
            "image at the upsampler's size; 'base': the base alone (at any --height/--width "
            "it takes). Default: the cascade when --height/--width ask for the upsampler's "
            "size, else the base alone"
        ),
    )
    upsampler_steps: int | None = Field(
        default=None, ge=1, le=10_000, description="the upsampler stage's steps (default: its own)"
    )
    upsampler_sampler: str | None = Field(
        default=None,
        max_length=64,
        description="the upsampler stage's sampler (default: its card's)",
    )


class GlideConfig(UNetShapeConfig):
    """A GLIDE model: base (text -> image), inpainting, or upsampler. Defaults: the scenes base."""

    image_size: int = Field(default=32, ge=8, le=256, description="image side, a power of two")
    channels: int = Field(default=3, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    attention_resolutions: tuple[int, ...] = Field(
        default=(16, 8),
        description="image sides at which attention (reading the text tokens) follows each "
        "ResBlock; the middle block always has one",
    )
    attention_heads: int = Field(default=4, ge=1, le=64, description="heads per attention")
    dropout: float = Field(default=0.0, ge=0, lt=1, description="dropout inside ResBlocks")
    # the text transformer
    text_context: int = Field(
        default=32, ge=4, le=512, description="tokens per prompt with its start and end tokens"
    )
    text_width: int = Field(default=64, ge=8, le=2048, description="text transformer width")
    text_layers: int = Field(default=2, ge=1, le=48, description="text transformer blocks")
    text_heads: int = Field(default=4, ge=1, le=64, description="text transformer heads")
    vocab_size: int = Field(
        default=1024, ge=BYTE_TOKENS, le=100_000, description="token embeddings (>= 514 + merges)"
    )
    tokenizer_merges: int = Field(
        default=400, ge=0, le=100_000, description="BPE merges learned from the training captions"
    )
    # what the U-Net reads besides x_t
    inpaint: bool = Field(
        default=False,
        description="an inpainting model: four extra input channels, the masked image (C) and "
        "the mask (1, white = repaint)",
    )
    low_res_size: int = Field(
        default=0,
        ge=0,
        le=256,
        description="an upsampler from this side: the low-resolution image, bilinearly "
        "upsampled, is C extra input channels (0: not an upsampler)",
    )
    low_res_noise: float = Field(
        default=0.2,
        ge=0,
        le=2,
        description="upsampler training: Gaussian noise of std ~ U(0, this) added to the "
        "low-resolution image in [-1, 1] (augmentation)",
    )
    schedule: NoiseSchedule = Field(
        default_factory=lambda: NoiseSchedule(
            beta_schedule="cosine", variance_type="learned_range", clip_sample=True
        ),
        description="the forward process (T, betas, prediction type, variance type)",
    )
    guidance: float = Field(
        default=3.0, ge=0, le=100, description="default classifier-free guidance scale"
    )
    sampling_steps: int = Field(default=50, ge=1, le=10_000, description="default sampler steps")
    example_prompt: str = Field(
        default="a large red circle in the center",
        max_length=300,
        description="the prompt of the card's samples.png and of `zoo bench`",
    )
    # training
    init_from: str | None = Field(
        default=None,
        description="training only: a glide model (id or folder) whose weights and tokenizer "
        "this one starts from (the inpainting model from the base); new input channels start "
        "at zero. A trained model has null here",
    )
    caption_dropout: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="probability a training caption is replaced by the empty one (the null "
        "condition of classifier-free guidance)",
    )
    hybrid_lambda: float = Field(
        default=0.001, ge=0, le=1, description="weight of L_vlb in the hybrid loss"
    )
    lr: float = Field(default=1e-3, gt=0, le=1, description="AdamW learning rate")
    weight_decay: float = Field(default=0.0, ge=0, le=1, description="AdamW weight decay")
    warmup_steps: int = Field(default=200, ge=0, description="linear LR warm-up")
    ema_decay: float = Field(default=0.999, ge=0, lt=1, description="EMA decay (warmed up)")
    batch_size: int = Field(default=32, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=6000, ge=1, description="training steps")

    @model_validator(mode="after")
    def _fits(self) -> GlideConfig:
        if BYTE_TOKENS + self.tokenizer_merges > self.vocab_size:
            raise ValueError(
                f"tokenizer_merges {self.tokenizer_merges} can make "
                f"{BYTE_TOKENS + self.tokenizer_merges} tokens; vocab_size is {self.vocab_size}"
            )
        if self.text_width % self.text_heads:
            raise ValueError(f"text_width {self.text_width} is not a multiple of text_heads")
        if self.inpaint and self.low_res_size:
            raise ValueError("a model is an inpainting model or an upsampler, not both")
        if self.low_res_size and self.low_res_size >= self.image_size:
            raise ValueError(f"low_res_size {self.low_res_size} must be below image_size")
        return self

    @property
    def in_channels(self) -> int:
        """x_t's channels plus the masked image and mask, or the low-resolution image."""
        if self.inpaint:
            return 2 * self.channels + 1
        return 2 * self.channels if self.low_res_size else self.channels

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": TINY,
        "tiny-inpaint": {**TINY, "inpaint": True},
        "tiny-upsampler": {**TINY, "image_size": 16, "low_res_size": 8},
        "default": {},
        # 32x32 scenes in about 80 minutes on one CPU thread: 0.7-0.8 s per step of 32 images
        # measured (OMP_NUM_THREADS=1, 1.4 M parameters, a shared machine), about the speed of
        # iddpm-scenes' U-Net (12,000 steps in 142 min) with attention at 8x8 and the text
        # transformer added; 6,000 steps show each of the 20,000 training scenes ~10 times
        "scenes": {
            "base_channels": 32,
            "channel_mults": (1, 2, 2),
            "attention_resolutions": (8,),
            "steps": 6000,
            "batch_size": 32,
        },
        # 32 -> 64 with the text, glide-scenes' upsampler (its card's zoo.components.upsampler)
        "scenes-upsampler": SCENES_UPSAMPLER,
        # fine-tuned from glide-scenes (--set init_from=glide-scenes)
        "scenes-inpaint": {
            "base_channels": 32,
            "channel_mults": (1, 2, 2),
            "attention_resolutions": (8,),
            "inpaint": True,
            "lr": 3e-4,
            "warmup_steps": 50,
            "steps": 1000,
            "batch_size": 32,
        },
    }
