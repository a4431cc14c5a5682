"""The two contracts a family implements: Generator (a loaded model) and Recipe
(how to train it); and the one a sampling algorithm implements: Sampler.

torch is imported only for type checking here; implementations import it.
Image tensors are (B, C, H, W) float in [0, 1] unless stated otherwise.

What a generator can do beyond the minimum is declared here, as class attributes or
methods with defaults, never probed with ``getattr``: ``options_class``, ``seed_varies``,
``eval_metrics``, ``truncates_latent``, ``image_rule()``, ``shape_for()``,
``example_request()``, ``required_conditions()``, ``drawn_labels()``, ``eval_datasets()``,
``next_stage()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from zoo.registry.options import NoOptions, Options

if TYPE_CHECKING:
    import torch

    from zoo.registry.schemas import Capability, Process


@dataclass(frozen=True)
class ImageRule:
    """What input images a generator takes; the app decodes ``--image`` to it.

    Attributes:
        channels: 1 (greyscale) or 3 (RGB); files are converted.
        multiple_of: each side must be a multiple of this (e.g. 2**depth for a U-Net).
        min_size, max_size: bounds on each side, in pixels.
    """

    channels: int
    multiple_of: int = 1
    min_size: int = 8
    max_size: int = 512


@dataclass(frozen=True)
class ControlImage:
    """A decoded control image: (1, C, H, W) in [0, 1] and its conditioning scale."""

    image: torch.Tensor
    scale: float = 1.0


@dataclass(frozen=True)
class Conditions:
    """The conditions of one request, decoded once by the app; generators never see paths.

    Attributes:
        prompt, negative_prompt: text, or None.
        label: class label, or None (a class-conditional family then picks per seed).
        image: (1, C, H, W) in [0, 1] as the generator's ``image_rule()`` asks, or None.
        mask: (1, 1, H, W) in {0, 1}, 1 = repaint, same size as ``image``, or None.
        control: control images with their scales.
        strength: how far ``image`` may be changed (img2img), or None.
        height, width: the output size asked for, or None (the model's own).
    """

    prompt: str | None = None
    negative_prompt: str | None = None
    label: int | None = None
    image: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    control: tuple[ControlImage, ...] = ()
    strength: float | None = None
    height: int | None = None
    width: int | None = None


@dataclass(frozen=True)
class Draw:
    """One call of a sampler: which images, under which conditions and options, where.

    Attributes:
        seeds: one per image; image k depends only on ``seeds[k]`` and the rest of this.
        conditions: the request's decoded conditions.
        options: the family's options (an instance of the generator's ``options_class``).
        sampler_options: the sampler's options (its ``options_class``).
        device: where the networks run; noise is drawn on the CPU.
        batch_size: images per forward pass.
        steps, guidance: the shared sampler fields, None when not given.
        progress: called with (done, total) as the draw goes (web pages show it), or None.
    """

    seeds: tuple[int, ...]
    conditions: Conditions = field(default_factory=Conditions)
    options: Options = field(default_factory=NoOptions)
    sampler_options: Options = field(default_factory=NoOptions)
    device: Any = "cpu"
    batch_size: int = 16
    steps: int | None = None
    guidance: float | None = None
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)

    def batches(self) -> Iterator[list[int]]:
        """The seeds in chunks of ``batch_size``."""
        for i in range(0, len(self.seeds), self.batch_size):
            yield list(self.seeds[i : i + self.batch_size])

    def ticker(self, total: int) -> Callable[[], None]:
        """A function a sampler calls once per unit of work (a denoising step, a token, a
        batch): each call reports (done, total) to ``progress``, if one was given."""
        done = [0]

        def tick() -> None:
            done[0] = min(done[0] + 1, total)
            if self.progress is not None:
                self.progress(done[0], total)

        return tick


@dataclass(frozen=True)
class NextStage:
    """A cascade's next model: another model that finishes each image a generator drew
    (an upsampler), as ``Generator.next_stage`` asks for it.

    The app then (1) draws the generator's own images under ``conditions`` with the
    request's seeds, sampler, steps and guidance; (2) loads the component of ``role`` as a
    model of its own (``component_refs`` or the card's ``zoo.components``); (3) draws each
    image k again through that model, alone, seeded ``stream_seed(seed_k, "cascade." + role)``
    (so image k is the same in any batch), under ``stage_conditions`` with ``image`` set to
    image k rounded to 8 bits as a PNG holds it, with ``steps`` and ``sampler`` (None: that
    model's defaults), its default guidance, its family's default options and the request's
    sampler options its sampler also takes. That model may name a next stage of its own.

    Attributes:
        role: the component that draws the next stage, e.g. "upsampler".
        conditions: the generator's own conditions: the request's, at the size it draws.
        stage_conditions: the next model's, without the image (the app adds each one): what
            carries over (the prompt) and the final size asked for.
        steps, sampler: the next model's steps and sampler name; None: its own defaults.
    """

    role: str
    conditions: Conditions
    stage_conditions: Conditions
    steps: int | None = None
    sampler: str | None = None


def shape_of_input(channels: int, conditions: Conditions) -> tuple[int, int, int]:
    """(channels, H, W) of the input image: for translators, whose output has its size.

    A height or width other than the input's is refused.
    """
    from zoo.registry.errors import RequestError

    if conditions.image is None:
        raise RequestError("this model draws an image the size of its input: pass --image")
    h, w = conditions.image.shape[-2:]
    if (conditions.height or h) != h or (conditions.width or w) != w:
        raise RequestError(
            f"this model's output has its input's size ({w}x{h}); drop --height/--width"
        )
    return (channels, int(h), int(w))


def fit_images(images: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """Resize (bilinear, antialiased when shrinking) and repeat grey to RGB if asked.

    (B, C, H, W) in [0, 1] -> (B, channels, size, size) in [0, 1].
    """
    import torch.nn.functional as F

    from zoo.registry.errors import RequestError

    if images.shape[1] != channels:
        if images.shape[1] != 1:
            raise RequestError(
                f"the images have {images.shape[1]} channels; the reference network takes {channels}"
            )
        images = images.expand(-1, channels, -1, -1)
    if tuple(images.shape[-2:]) != (size, size):
        shrink = size < images.shape[-1]
        images = F.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
        ).clamp(0, 1)
    return images.contiguous()


@dataclass(frozen=True)
class DataNeeds:
    """What a training recipe reads from a dataset split (``Recipe.needs``).

    ``zoo train`` checks a dataset against it once, before the first step, and names
    everything that does not fit in one line.

    Attributes:
        images: image keys -> the channels their (N, C, S, S) tensors must have
            (None: any number).
        image_size: the side S every image key must have, or None.
        labels: integer keys -> number of classes K; their values must lie in 0..K-1.
        captions: the split must hold 'caption', one string per image.
        keys: other keys read as they are (e.g. 'attributes').
        config_fields: need (an image or label key) -> the config field that sets it,
            so the message can say which ``--set`` fits the data (e.g. image -> channels).
    """

    images: Mapping[str, int | None] = field(default_factory=lambda: {"image": None})
    image_size: int | None = None
    labels: Mapping[str, int] = field(default_factory=dict)
    captions: bool = False
    keys: tuple[str, ...] = ()
    config_fields: Mapping[str, str] = field(default_factory=dict)


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
        self.components: dict[str, Any] = {}

    @abstractmethod
    def networks(self) -> dict[str, torch.nn.Module]:
        """The parts whose weights are saved and loaded."""

    def component_refs(self) -> dict[str, str]:
        """Other models this one uses, by role, e.g. {"text_encoder": "clip-scenes"}.

        The app loads each through its device manager (once per process, one copy shared
        by every model naming it) and puts the loaded network in ``components[role]``
        before the first draw or training step; a card's ``zoo.components`` may point a
        role elsewhere. A component's weights stay its own: they are not saved with this
        network's. Default: none.
        """
        return {}

    def read_files(self, folder: Path) -> None:
        """Read what the network needs from its model folder besides weights (a tokenizer's
        vocabulary), once, right after it is built and before its weights load. Default:
        nothing."""
        return None

    def write_files(self, folder: Path) -> None:
        """Write what ``read_files`` reads into a model folder being saved (the trainer calls
        it beside the weights). Default: nothing."""
        return None

    def own_names(self, part: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The tensors of a file holding network ``part``'s weights alone (a component's
        subfolder in diffusers' layout), renamed to the network's own names: files saved by
        another version of a library may name them otherwise. Default: as they are."""
        return state

    def component(self, role: str) -> Any:
        """The loaded component of ``role`` (see ``component_refs``)."""
        if role not in self.components:
            from zoo.registry.errors import RequestError

            raise RequestError(
                f"{type(self).__name__} needs its '{role}' component, which was not loaded "
                "(load the model with zoo.load)"
            )
        return self.components[role]

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
    options_class: ClassVar[type[Options]] = NoOptions
    """The family's options (the same class ``FamilySpec.options`` names)."""
    seed_varies: ClassVar[bool] = True
    """False for models whose output depends only on their conditions (a deterministic
    translator): the contract checks then do not ask the seed to change the image."""
    eval_metrics: ClassVar[tuple[str, ...] | None] = None
    """The metrics ``zoo eval`` computes by default; None: those of its capabilities."""

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

        Other sizes may work (see ``image_rule``); None for families that take no image.
        """
        return None

    def image_rule(self) -> ImageRule | None:
        """How the app decodes ``--image`` for this model; None if it takes no image."""
        return None

    def shape_for(self, conditions: Conditions) -> tuple[int, int, int]:
        """(C, H, W) of the images drawn under ``conditions``.

        Default: ``image_shape``, and a height or width other than it is refused; families
        that draw other sizes override this.
        """
        c, h, w = self.image_shape
        if (conditions.height or h) != h or (conditions.width or w) != w:
            from zoo.registry.errors import RequestError

            raise RequestError(f"this model draws {w}x{h} images only; drop --height/--width")
        return (c, h, w)

    def example_request(self) -> dict[str, Any]:
        """Request fields a first draw needs (e.g. a prompt), for samples.png and ``zoo bench``."""
        return {}

    def required_conditions(self) -> tuple[Capability, ...]:
        """Conditions without which it draws nothing, e.g. ('image',) for an upsampler: the
        contract checks put them into every request they make. Default: none."""
        return ()

    def next_stage(self, conditions: Conditions, options: Options) -> NextStage | None:
        """The model that finishes this draw's images, when ``conditions`` and ``options`` ask
        for a cascade (a base model asked for its upsampler's size), else None.

        Called by the app once per draw, before drawing; the model of ``role`` must take an
        image (see ``NextStage`` for how the app runs it). Raises RequestError for a request
        that no stage fits. Default: None, the model draws the images alone.
        """
        return None

    def drawn_labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int] | None:
        """The class label each image drew when the request named none, else None.

        Recorded per image so ``--from`` can tell what was drawn.
        """
        return None

    def eval_datasets(self, options: Options) -> tuple[str, str] | None:
        """(dataset of the real images, dataset of the inputs) for ``zoo eval``.

        None: both are the model's own dataset. An unpaired translator answers per direction.
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

    def check_prompt(self, text: str, example: str | None = None) -> None:
        """Refuse (RequestError) a user's prompt that ``encode_text`` would not read as
        written, e.g. words outside a word vocabulary; a text model whose text encoder
        this is checks its prompts here. ``example``: a prompt to suggest. Default: none
        is refused."""
        return None

    def input_shape(self) -> tuple[int, int] | None:
        """(channels, size) of the images it takes, from its config; None if it does not say."""
        c = self.config
        size, channels = getattr(c, "image_size", None), getattr(c, "channels", None)
        return (int(channels), int(size)) if size and channels else None

    def fit(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` resized and converted to what it takes (see ``fit_images``)."""
        shape = self.input_shape()
        return fit_images(images, shape[1], shape[0]) if shape else images

    def predict_attributes(self, images: torch.Tensor) -> torch.Tensor | None:
        """(B, K) int64 attribute indices read off images (prompt accuracy), else None."""
        return None

    def canonical(self, attributes: torch.Tensor) -> torch.Tensor:
        """True attributes (B, K) in the order ``predict_attributes`` names objects.

        A network that reads objects in a fixed order (left to right) compares its
        predictions with ``canonical(truth)``. Default: unchanged.
        """
        return attributes


class OneShotGenerator(Generator):
    """A generator that maps latents (and conditions) to images in one pass (GANs)."""

    process: ClassVar[Process] = "one-shot"
    truncates_latent: ClassVar[bool] = True
    """With a ``truncation`` option (``TruncationOptions``) set, the one-shot sampler resamples
    z outside [-psi, psi]; a family that truncates elsewhere (StyleGAN, in w) sets False and
    applies it in ``generate``."""

    @abstractmethod
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one image's latent z, drawn from N(0, I)."""

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """Per-image inputs for a batch besides z (tensors batch-first, one row per seed).

        Must depend only on the conditions, the options and each image's own seed, so that
        an image is the same whatever batch it is drawn in. Default: none.
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

    def context(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """Per-image conditions (tensors batch-first, one row per seed), e.g. text tokens.

        Must depend only on the conditions, the options and each image's own seed.
        Default: none.
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


G = TypeVar("G", bound=Generator)


class Sampler(ABC, Generic[G]):
    """An algorithm that draws images from generators of one process.

    ``options_class`` is the sampler's own options (the class ``SamplerSpec.options``
    names); the ``Draw`` supplies seeds, conditions and both sets of options.
    """

    name: ClassVar[str]
    process: ClassVar[Process]
    generator_class: ClassVar[type[Any]] = Generator
    """The generators it can drive; others are refused before drawing."""
    options_class: ClassVar[type[Options]] = NoOptions

    @abstractmethod
    def sample(self, generator: G, draw: Draw) -> torch.Tensor:
        """Draw one image per seed: (len(draw.seeds), C, H, W) in [0, 1] on the CPU.

        Image k must depend only on ``draw.seeds[k]`` and the rest of ``draw``, never on
        the other seeds or on how many are drawn together.
        """


class Recipe(ABC):
    """How a family trains: one optimisation step at a time.

    The zoo owns the loop (data, batches, progress bar, checkpoints); the recipe
    owns the losses and optimisers.

    Data-parallel training (``torchrun ... -m zoo train``) is opt-in: a recipe that sets
    ``data_parallel = True`` overrides ``distribute`` to wrap the networks its ``step``
    calls. Each worker then gets its slice of the global batch (rows ``rank * b`` to
    ``(rank + 1) * b`` for a per-worker batch ``b``); every worker's global torch RNG
    starts from the same seed, so a recipe that draws its random quantities for the whole
    global batch and keeps ``local_slice`` of them trains as one process with the global
    batch would.
    """

    #: Whether the recipe trains data-parallel under torchrun (``distribute`` is overridden).
    data_parallel: ClassVar[bool] = False
    #: This worker's index and the number of workers (0 and 1 outside torchrun).
    rank: int = 0
    world_size: int = 1

    def __init__(self, generator: Network, config: FamilyConfig, device: torch.device) -> None:
        self.generator = generator
        self.config = config
        self.device = device

    @classmethod
    def needs(cls, config: FamilyConfig) -> DataNeeds:
        """What ``step`` reads from a batch under ``config``, checked before the first step.

        Default: 'image' with the config's ``channels`` (when it has that field) at its
        ``image_size``; recipes that read labels, captions or other images override this.
        """
        channels = getattr(config, "channels", None)
        return DataNeeds(
            images={"image": channels},
            image_size=getattr(config, "image_size", None),
            config_fields={"image": "channels"} if channels is not None else {},
        )

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

    def distribute(
        self,
        rank: int,
        world_size: int,
        wrap: Callable[[torch.nn.Module], torch.nn.Module],
    ) -> None:
        """Prepare for data-parallel training; called once, before the first step and
        before a resumed run loads its state, only for recipes with ``data_parallel``.

        Args:
            rank: this worker's index, 0 to ``world_size - 1``.
            world_size: the number of workers; the global batch is ``world_size`` slices.
            wrap: turns a network into its DistributedDataParallel wrapper, whose backward
                averages the gradients over the workers. An override calls ``super()``
                and calls ``wrap(net)`` in ``step`` in place of ``net``, while
                ``trainable()`` keeps returning the unwrapped networks (checkpoints and
                the model folder keep their keys).
        """
        self.rank, self.world_size = rank, world_size

    def local_slice(self, x: torch.Tensor) -> torch.Tensor:
        """This worker's rows of ``x``, a quantity drawn for the whole global batch
        (``world_size`` equal slices along dim 0); ``x`` itself on one process."""
        b = x.shape[0] // self.world_size
        return x[self.rank * b : (self.rank + 1) * b]

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Every worker's ``x`` (same shape on each) concatenated along dim 0 in rank
        order, on every worker: the global batch's values from each worker's slice.
        ``x`` itself on one process. All workers must call it at the same point."""
        if self.world_size == 1:
            return x
        import torch
        import torch.distributed as dist

        parts = [torch.empty_like(x) for _ in range(self.world_size)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    def prepare(self, split: Mapping[str, Any]) -> None:
        """Called once with the whole training split (the dict of tensors and lists that
        ``step``'s batches are cut from), after the recipe is built and before the first
        step, and again when a run resumes: learn what depends on the data as a whole (a
        tokenizer's vocabulary from the captions) or keep some of it for ``finish``. Must
        give the same result for the same split and config. Default: nothing."""
        return None

    def finish(self) -> None:
        """Called once after the last step, before the model folder is written: e.g. copy
        an exponential moving average of the weights into the shipped networks. It may
        replace ``generator.config`` (a frozen copy with, say, a statistic of the trained
        networks): the folder's config.json is the generator's config. Default: nothing."""
        return None
