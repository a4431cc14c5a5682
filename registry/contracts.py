"""The two contracts a family implements: Generator (a loaded model) and Recipe
(how to train it); and the one a sampling algorithm implements: Sampler.

torch is imported only for type checking here; implementations import it.
Image tensors are (B, C, H, W) float in [0, 1] unless stated otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch

    from zoo.registry.schemas import Capability, Process, SampleRequest


class FamilyConfig(BaseModel):
    """Base of every family's config (saved as config.json beside the weights).

    Frozen, unknown keys are errors, NaN/Inf refused. Subclasses describe each
    field and offer presets (at least ``tiny``) through ``PRESETS``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> FamilyConfig:
        if name not in cls.PRESETS:
            from zoo.registry.errors import RequestError

            raise RequestError(
                f"unknown preset '{name}' for {cls.__name__}; choose from {', '.join(cls.PRESETS)}"
            )
        return cls(**{**cls.PRESETS[name], **overrides})


class Network(ABC):
    """Something the zoo builds from a config and loads weights into.

    Subclasses set ``family`` and ``config_class``, build their networks in
    ``__init__`` and expose them through ``networks()``; the zoo saves and loads
    their weights as ``<part>.<param>`` keys in one safetensors file.
    """

    family: ClassVar[str]
    config_class: ClassVar[type[FamilyConfig]]

    def __init__(self, config: FamilyConfig) -> None:
        self.config = config

    @abstractmethod
    def networks(self) -> dict[str, torch.nn.Module]:
        """The parts whose weights are saved and loaded."""

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Network:
        for net in self.networks().values():
            net.to(device=device, dtype=dtype)
        return self

    def eval(self) -> Network:
        for net in self.networks().values():
            net.eval()
        return self

    def parameter_count(self) -> int:
        return sum(p.numel() for net in self.networks().values() for p in net.parameters())

    def state_dict(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for part, net in self.networks().items():
            for key, value in net.state_dict().items():
                out[f"{part}.{key}"] = value
        return out


class Generator(Network):
    """A loaded model that turns a request into images.

    Besides ``family`` and ``config_class`` it declares its ``process`` and
    ``capabilities``; ``networks()`` returns what sampling needs.
    """

    process: ClassVar[Process]
    capabilities: ClassVar[tuple[Capability, ...]]
    # False for models whose output depends only on their conditions (a deterministic
    # translator): the contract checks then do not ask the seed to change the image
    seed_varies: ClassVar[bool] = True

    @property
    def num_classes(self) -> int | None:
        """Number of class labels for class-conditional models, else None."""
        return getattr(self.config, "num_classes", None)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images it makes."""
        c = self.config
        return (c.channels, c.image_size, c.image_size)  # type: ignore[attr-defined]

    def default_sampler(self) -> str:
        from zoo.registry.schemas import DEFAULT_SAMPLERS

        return DEFAULT_SAMPLERS[self.process]

    def condition_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) of the condition image it was trained on (image-conditioned families).

        Other sizes may work (see the family's rules); None for families that take no image.
        """
        return None


class Autoencoder(ABC):
    """A mixin for networks that map images to latents and back (AE, DAE, VAE, VQ-VAE).

    Latents are whatever the family encodes to (vectors, feature maps, code indices);
    ``decode(encode(x))`` must accept them unchanged.
    """

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> latents (B, *latent_shape), deterministic (a VAE: the mean)."""

    @abstractmethod
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B, *latent_shape) -> images (B, C, H, W) in [0, 1]."""

    @abstractmethod
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one image's latent."""

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """decode(encode(images))."""
        return self.decode(self.encode(images))

    def random_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """What "a random latent" means for this family: by default N(0, I) draws.

        Autoencoders that were not trained towards a prior decode these poorly; that is
        the point the VAE answers.
        """
        import torch

        return torch.randn((n, *self.latent_shape()), generator=generator)


class ReferenceNetwork(Network):
    """A network the metrics use in place of Inception or CLIP (family kind 'reference').

    Image inputs are (B, C, H, W) in [0, 1] at the size of its dataset; it
    resizes nothing itself.
    """

    evaluator: ClassVar[str | None] = None
    """Import path ("module:function") of the family's held-out figures, or None.

    ``zoo reference-eval`` loads the network and calls it as
    ``fn(network, dataset, load_split, n=n)``: ``dataset`` is the card's dataset name,
    ``load_split(split)`` that dataset's split at the network's image size (a dict of
    tensors and lists), ``n`` the number of held-out items to use (None: all). It
    returns {"results": [...]} (a card's model-index results) and any other figures.
    """

    @property
    def num_features(self) -> int:
        """Length of the feature vector (FID, KID, precision/recall use it)."""
        return int(self.config.num_features)  # type: ignore[attr-defined]

    @abstractmethod
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, num_features) float."""

    def logits(self, images: torch.Tensor) -> torch.Tensor | None:
        """Class logits (B, K) for the Inception Score, or None if it has no classes."""
        return None

    def encode_text(self, texts: list[str]) -> torch.Tensor | None:
        """(len(texts), D) text embeddings for CLIP-like networks, else None."""
        return None


class OneShotGenerator(Generator):
    """A generator that maps latents (and conditions) to images in one pass (GANs)."""

    process: ClassVar[Process] = "one-shot"

    @abstractmethod
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one image's latent z, drawn from N(0, I)."""

    def conditions(self, request: SampleRequest, seeds: Sequence[int]) -> dict[str, Any]:
        """Per-image conditions for a batch (one entry per seed). Default: none.

        Must depend only on the request and each image's own seed, so that an
        image is the same whatever batch it is drawn in.
        """
        return {}

    @abstractmethod
    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """Map latents (B, *latent_shape) to images (B, C, H, W) in [0, 1]."""


class AutoregressiveGenerator(Generator):
    """A generator that draws a sequence of discrete tokens one at a time, then decodes them.

    The sampler owns the loop and the randomness (temperature, top-k, top-p, rerank);
    the generator says how long a sequence is, gives the logits of the next token and
    turns a finished sequence into images.
    """

    process: ClassVar[Process] = "autoregressive"

    @abstractmethod
    def sequence_length(self) -> int:
        """Number of tokens drawn per image."""

    @abstractmethod
    def vocab_size(self) -> int:
        """Number of logits per step."""

    def context(self, request: SampleRequest, seeds: Sequence[int]) -> dict[str, Any]:
        """Per-image conditions (tensors batch-first, one row per seed), e.g. text tokens.

        Must depend only on the request and each image's own seed. Default: none.
        """
        return {}

    @abstractmethod
    def next_logits(
        self, tokens: torch.Tensor, context: dict[str, Any], state: dict[str, Any]
    ) -> torch.Tensor:
        """Logits (B, vocab_size) of token t given ``tokens`` (B, t) int64, t = 0 .. L - 1.

        ``state`` starts empty for every draw; the generator may keep a cache in it.
        """

    @abstractmethod
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Finished sequences (B, sequence_length) int64 -> images (B, C, H, W) in [0, 1]."""

    def score(self, images: torch.Tensor, context: dict[str, Any]) -> torch.Tensor | None:
        """(B,) scores of finished images, higher is better (``--rerank`` keeps the best).

        None: this model cannot rerank.
        """
        return None


class Sampler(ABC):
    """An algorithm that draws images from generators of one process.

    ``options_class`` is a pydantic model of the sampler's own options; the
    request supplies seeds and conditions.
    """

    name: ClassVar[str]
    process: ClassVar[Process]

    @abstractmethod
    def sample(
        self,
        generator: Generator,
        request: SampleRequest,
        seeds: Sequence[int],
        device: torch.device,
    ) -> torch.Tensor:
        """Draw one image per seed: (len(seeds), C, H, W) in [0, 1] on the CPU.

        Image k must depend only on ``seeds[k]`` and the request, never on the
        other seeds or on how many are drawn together.
        """


class Recipe(ABC):
    """How a family trains: one optimisation step at a time.

    The zoo owns the loop (data, batches, progress bar, checkpoints); the recipe
    owns the losses and optimisers.
    """

    def __init__(self, generator: Network, config: FamilyConfig, device: torch.device) -> None:
        self.generator = generator
        self.config = config
        self.device = device

    @abstractmethod
    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step on a batch ({"image": (B, C, H, W) in [0, 1], ...}).

        Returns the losses as plain floats, for the progress bar and the card.
        """

    def trainable(self) -> dict[str, torch.nn.Module]:
        """Every network the recipe trains, including those not shipped (critics)."""
        return self.generator.networks()

    def optimizers(self) -> dict[str, Any]:
        """Optimisers (and LR schedulers) whose state a checkpoint must keep.

        Default: every attribute with ``state_dict``/``load_state_dict`` that is
        not a network, found by name; override to be explicit.
        """
        import torch

        return {
            name: value
            for name, value in sorted(vars(self).items())
            if isinstance(value, (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler))
        }

    def recipe_summary(self) -> dict[str, Any]:
        """What the card records about the recipe (loss, optimiser, schedule)."""
        return {}
