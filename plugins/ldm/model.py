"""Latent diffusion: denoise in a KL autoencoder's latent space, steered by CLIP text states.

Paper: Rombach, Blattmann, Lorenz, Esser & Ommer, "High-Resolution Image Synthesis with
Latent Diffusion Models" (2022), arXiv:2112.10752; Stable Diffusion 1.x/2.x are such models.

The generator holds three networks with diffusers' names (``unet``, ``vae``,
``text_encoder``) and a CLIP BPE tokenizer read from the folder's ``tokenizer/``. A prompt
(or "" when none is given) is tokenized to the tokenizer's length (77), encoded to the text
encoder's last hidden states, and cross-attended by the U-Net; the null condition of
classifier-free guidance is the negative prompt's states, or the empty prompt's.

- txt2img: noise in latent space of (4, H/8, W/8), decoded by the autoencoder.
- img2img (``--image --strength``, SDEdit): the input's latent (the posterior mean, so the
  start does not depend on the seed) is noised to the level of the first step the sampler
  runs; every sampler supports it.
- inpainting (``--image --mask``) with a 9-channel U-Net: the mask at latent size and the
  latent of the masked image are concatenated to x_t at every step, as Stable Diffusion's
  inpainting models were trained. With an ordinary 4-channel U-Net, by blending: after
  every step the unmasked region is replaced by the input's latent noised to that step's
  level (``kept_region``), as diffusers' inpainting pipeline does with such a U-Net.

The autoencoder stays in float32 whatever dtype the U-Net is loaded in: Stable Diffusion's
VAE overflows in float16.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.ldm.config import UNTRAINED, LDMConfig
from zoo.plugins.nn.clip_bpe import CLIPBPETokenizer, build_clip_vocab
from zoo.plugins.nn.sd_text import CLIPTextEncoder, CLIPTextEncoderConfig
from zoo.plugins.nn.sd_unet import SDUNet, SDUNetConfig
from zoo.plugins.nn.sd_vae import KLAutoencoder, KLAutoencoderConfig
from zoo.plugins.nn.text import PerRequest, refuse_blank, warn_truncated
from zoo.registry.contracts import Conditions, ImageRule
from zoo.registry.diffusion import DiffusionGenerator, NoiseSchedule
from zoo.registry.errors import CardError, RequestError
from zoo.registry.options import Options

TOKENIZER_FOLDER = "tokenizer"
DEFAULT_STRENGTH = 0.8  # img2img without --strength: diffusers' default too


class LatentDiffusionGenerator(DiffusionGenerator):
    family = "ldm"
    config_class = LDMConfig
    capabilities = ("text", "image", "mask")

    def __init__(self, config: LDMConfig) -> None:
        super().__init__(config)
        self.unet_config = SDUNetConfig.from_dict(config.unet, where="unet config")
        vae_config = KLAutoencoderConfig.from_dict(config.vae, where="vae config")
        text_config = CLIPTextEncoderConfig.from_dict(
            config.text_encoder, where="text_encoder config"
        )
        self.unet = SDUNet(self.unet_config)
        self.vae = KLAutoencoder(vae_config)
        self.text_encoder = CLIPTextEncoder(text_config)
        self._prompts = PerRequest()
        self.scale = 2 ** (len(vae_config.block_out_channels) - 1)
        self.latent_channels = int(vae_config.latent_channels)
        if self.unet_config.in_channels not in (self.latent_channels, 2 * self.latent_channels + 1):
            raise CardError(
                f"unet config: in_channels {self.unet_config.in_channels} fits neither the "
                f"autoencoder's {self.latent_channels} latent channels nor inpainting's "
                f"{2 * self.latent_channels + 1}"
            )
        self.inpainting = self.unet_config.in_channels == 2 * self.latent_channels + 1
        self.noise = NoiseSchedule.from_diffusers(config.scheduler)
        # CLIP's byte-level vocabulary without merges until a folder's tokenizer is read
        vocab, merges = build_clip_vocab([], num_merges=0)
        length = min(77, text_config.max_position_embeddings)
        self.tokenizer = CLIPBPETokenizer(vocab, merges, model_max_length=length)

    # -- what it is ------------------------------------------------------------------

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet, "vae": self.vae, "text_encoder": self.text_encoder}

    def component_refs(self) -> dict[str, str]:
        """The klvae model a recipe trains on (``autoencoder``); none once trained."""
        ref = self.config.autoencoder
        return {} if ref in (None, UNTRAINED) else {"autoencoder": ref}

    def use_autoencoder(self, vae: KLAutoencoder) -> None:
        """Put a trained autoencoder in place of the config's (its factor and latent channels
        must fit the U-Net); the config's ``vae`` block becomes its config."""
        channels = int(vae.config.latent_channels)
        if self.unet_config.in_channels != channels or vae.downscale != self.scale:
            raise RequestError(
                f"the autoencoder gives ({channels}, H/{vae.downscale}, W/{vae.downscale}) "
                f"latents; this U-Net takes {self.unet_config.in_channels} channels at "
                f"H/{self.scale}: choose a fitting autoencoder or --set unet=... and vae=... "
                "to its shape"
            )
        weight = next(self.unet.parameters())
        self.vae = vae.to(device=weight.device, dtype=torch.float32)
        self.config = self.config.model_copy(
            update={"vae": vae.config.model_dump(mode="json"), "autoencoder": None}
        )

    def use_tokenizer(self, tokenizer: CLIPBPETokenizer) -> None:
        """Read prompts with ``tokenizer`` (e.g. one learned from training captions); the
        text encoder's config takes its start, end and pad ids."""
        if len(tokenizer.vocab) > self.text_encoder.config.vocab_size:
            raise RequestError(
                f"the tokenizer has {len(tokenizer.vocab)} tokens; the text encoder embeds "
                f"{self.text_encoder.config.vocab_size}: --set text_encoder=... with a larger "
                "vocab_size, or fewer tokenizer_merges"
            )
        ids = {"bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id}
        ids["pad_token_id"] = tokenizer.pad_id
        text = {**self.config.text_encoder, **ids}
        self.tokenizer = tokenizer
        self.text_encoder.config = self.text_encoder.config.model_copy(update=ids)
        self.config = self.config.model_copy(update={"text_encoder": text})

    def read_files(self, folder: Path) -> None:
        path = folder / TOKENIZER_FOLDER
        if not path.is_dir():
            raise CardError(f"{folder} has no {TOKENIZER_FOLDER}/ folder (the CLIP tokenizer)")
        self.tokenizer = CLIPBPETokenizer.from_folder(path)

    def write_files(self, folder: Path) -> None:
        self.tokenizer.save(folder / TOKENIZER_FOLDER)

    def own_names(self, part: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if part != "text_encoder":
            return state
        # transformers 5 saves CLIPTextModel without its "text_model." prefix, and older
        # files may carry the position_ids buffer
        return {
            (k if k.startswith("text_model.") else "text_model." + k): v
            for k, v in state.items()
            if not k.endswith("embeddings.position_ids")
        }

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Any:
        self.unet.to(device=device, dtype=dtype)
        self.text_encoder.to(device=device, dtype=dtype)
        self.vae.to(device=device, dtype=torch.float32)  # fp16 overflows in SD's VAE
        return self

    def schedule(self) -> NoiseSchedule:
        return self.noise

    def default_steps(self) -> int:
        return self.config.default_steps

    def default_guidance(self, conditions: Conditions | None = None) -> float | None:
        return self.config.default_guidance

    @property
    def image_shape(self) -> tuple[int, int, int]:
        size = self.unet_config.sample_size
        side = size if isinstance(size, int) else 64
        return (3, side * self.scale, side * self.scale)

    def condition_shape(self) -> tuple[int, int, int] | None:
        return self.image_shape

    def image_rule(self) -> ImageRule | None:
        return ImageRule(channels=3, multiple_of=self.scale, min_size=self.scale, max_size=2048)

    def shape_for(self, conditions: Conditions) -> tuple[int, int, int]:
        _, h, w = self.image_shape
        if conditions.image is not None:
            ih, iw = (int(d) for d in conditions.image.shape[-2:])
            if (conditions.height or ih) != ih or (conditions.width or iw) != iw:
                raise RequestError(
                    f"this model draws at its input's size ({iw}x{ih}); drop --height/--width"
                )
            h, w = ih, iw
        h, w = conditions.height or h, conditions.width or w
        for name, v in (("height", h), ("width", w)):
            if v % self.scale:
                raise RequestError(
                    f"--{name} {v} is not a multiple of {self.scale} (the autoencoder's factor)"
                )
        return (3, h, w)

    def sample_shape(self, conditions: Conditions) -> tuple[int, int, int]:
        _, h, w = self.shape_for(conditions)
        return (self.latent_channels, h // self.scale, w // self.scale)

    def example_request(self) -> dict[str, Any]:
        return {"prompt": self.config.example_prompt}

    # -- conditions ------------------------------------------------------------------

    def text_states(self, prompts: list[str]) -> torch.Tensor:
        """(B, tokens, dim) last hidden states of the text encoder for ``prompts``."""
        ids = self.tokenizer(prompts).to(next(self.text_encoder.parameters()).device)
        return self.text_encoder(ids)[0]

    def _read_prompts(self, conditions: Conditions) -> torch.Tensor:
        """The text states of the prompt and the negative prompt, with one notice for each
        that is longer than the tokenizer's context (its tail is dropped)."""
        prompts = [conditions.prompt or "", conditions.negative_prompt or ""]
        room = self.tokenizer.model_max_length - 2
        for text in prompts:
            ids = self.tokenizer.encode(text)
            if len(ids) > room:
                warn_truncated(self.tokenizer, ids, room)
        return self.text_states(prompts)

    def encode_conditions(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        if conditions.strength is not None and conditions.image is None:
            raise RequestError("--strength needs --image (how far that image may be changed)")
        if self.inpainting and conditions.mask is None:
            raise RequestError("this is an inpainting model: pass --image and --mask")
        refuse_blank(conditions.prompt)
        b = len(seeds)
        texts = self._prompts(conditions, lambda: self._read_prompts(conditions))
        out: dict[str, Any] = {
            "context": texts[:1].expand(b, -1, -1),
            "null_context": texts[1:].expand(b, -1, -1),
        }
        image = None
        if conditions.image is not None:
            image = conditions.image.to(next(self.vae.parameters()).device, torch.float32)
        blending = conditions.mask is not None and not self.inpainting
        if image is not None and (conditions.strength is not None or not self.inpainting):
            if not (blending and conditions.strength is None):  # plain inpainting: from noise
                out["start"] = self.encode(image).expand(b, -1, -1, -1)
                out["strength"] = conditions.strength or DEFAULT_STRENGTH
        if blending and image is not None and conditions.mask is not None:
            h, w = image.shape[-2] // self.scale, image.shape[-1] // self.scale
            out["kept"] = self.encode(image).expand(b, -1, -1, -1)
            mask = F.interpolate(conditions.mask.to(image), size=(h, w))
            out["keep_mask"] = mask.expand(b, -1, -1, -1)
        if self.inpainting and image is not None and conditions.mask is not None:
            mask = conditions.mask.to(image)
            h, w = image.shape[-2] // self.scale, image.shape[-1] // self.scale
            kept = (image * 2 - 1) * (mask < 0.5)  # the repainted region blanked, in [-1, 1]
            out["mask"] = F.interpolate(mask, size=(h, w)).expand(b, -1, -1, -1)
            out["masked"] = self.vae.latents(kept).expand(b, -1, -1, -1)
        return out

    def null_conditions(self, encoded: dict[str, Any]) -> dict[str, Any] | None:
        return {**encoded, "context": encoded["null_context"]}

    def start_sample(self, encoded: dict[str, Any]) -> tuple[torch.Tensor, float] | None:
        if "start" not in encoded:
            return None
        return encoded["start"], float(encoded["strength"])

    def kept_region(self, encoded: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
        if "kept" not in encoded:
            return None
        return encoded["kept"], encoded["keep_mask"]

    # -- the network -----------------------------------------------------------------

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        dtype = next(self.unet.parameters()).dtype
        x = x_t
        if self.inpainting:
            x = torch.cat([x_t, encoded["mask"].to(x_t), encoded["masked"].to(x_t)], dim=1)
        t = torch.as_tensor(t, device=x_t.device)
        if t.dim() == 0:
            t = t.expand(x_t.shape[0])
        return self.unet(x.to(dtype), t, encoded["context"].to(dtype)).float()

    def decode(self, x_0: torch.Tensor) -> torch.Tensor:
        images = self.vae.images(x_0.float())
        return ((images + 1) / 2).clamp(0, 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> scaled latents (the posterior mean)."""
        return self.vae.latents(images.float() * 2 - 1)
