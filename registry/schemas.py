"""Pydantic schemas shared by the app and the plugins.

Specs (`FamilySpec`, `ModelSpec`, `SamplerSpec`, `DatasetSpec`) are what plugins
register; they name their torch code by import path ("package.module:Name") so
that registering never imports torch. `SampleRequest` is what a user asks for and
`ModelCard` is the YAML front matter of a model folder's README.md.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from zoo.registry.errors import RequestError

Process = Literal["one-shot", "diffusion", "autoregressive"]
Capability = Literal["unconditional", "class", "text", "image", "mask", "control"]
PROCESSES: tuple[str, ...] = Process.__args__  # type: ignore[attr-defined]
CAPABILITIES: tuple[str, ...] = Capability.__args__  # type: ignore[attr-defined]
# the sampler a process uses unless the card or the request names another
DEFAULT_SAMPLERS: dict[str, str] = {
    "one-shot": "one-shot",
    "diffusion": "ddim",
    "autoregressive": "ar",
}

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# sampler names may also hold '+' (dpm++2m); model, family and dataset ids may not
SAMPLER_NAME = r"^[a-z0-9][a-z0-9._+-]{0,63}$"
IMPORT_PATH = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


class Strict(BaseModel):
    """Base for our own schemas: unknown fields and NaN/Inf are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, defer_build=True)


class FamilySpec(Strict):
    """A model family: code that builds, samples and trains networks of one kind."""

    name: str = Field(pattern=ID_PATTERN, description="family id, e.g. 'dcgan'")
    kind: Literal["generator", "reference", "autoencoder"] = Field(
        default="generator",
        description=(
            "'reference' for networks the metrics use (classifiers, CLIP); 'autoencoder' for "
            "networks that reconstruct but cannot sample (AE, DAE): neither draws images"
        ),
    )
    process: Process | None = Field(default=None, description="how images are drawn from it")
    capabilities: tuple[Capability, ...] = Field(
        default=(), description="which conditions a request may carry"
    )
    component_capabilities: dict[str, tuple[Capability, ...]] = Field(
        default_factory=dict,
        description=(
            "conditions a model of this family also takes when its card names a component "
            "of that role, e.g. {'clip': ('text',)}: a prompt, read by that component"
        ),
    )
    generator: str = Field(
        pattern=IMPORT_PATH,
        description="import path of the Generator subclass (or of the reference network)",
    )
    trainer: str | None = Field(
        default=None, pattern=IMPORT_PATH, description="import path of the training recipe"
    )
    options: str | None = Field(
        default=None,
        pattern=IMPORT_PATH,
        description=(
            "import path of the family's Options model (zoo.registry.options), importable "
            "without torch; None: the family takes no options"
        ),
    )
    pipelines: tuple[str, ...] = Field(
        default=(),
        description=(
            "diffusers pipeline classes (the `_class_name` of a repo's model_index.json) whose "
            "repos this family loads as they are, without a zoo card: each component's "
            "config.json becomes config[component], its safetensors that network's weights"
        ),
    )
    pipeline_networks: tuple[str, ...] = Field(
        default=(),
        description="the components of such a repo whose safetensors are the generator's networks",
    )
    converter: str | None = Field(
        default=None,
        pattern=IMPORT_PATH,
        description=(
            "import path of convert(checkpoint, like, out, ema) -> out: writes a model folder "
            "from a checkpoint in another layout, with the configs of a model `like` it "
            "(`zoo convert`)"
        ),
    )
    reconstructs: bool = Field(
        default=False,
        description="its generator also implements Autoencoder (`zoo reconstruct` works on it)",
    )
    description: str = Field(default="", max_length=300)
    plugin: str = Field(default="", description="stamped by the registry")

    @model_validator(mode="after")
    def _generator_fields(self) -> FamilySpec:
        if self.kind == "generator" and (self.process is None or not self.capabilities):
            raise ValueError("a generator family needs a process and at least one capability")
        if self.kind != "generator" and self.process is not None:
            raise ValueError(f"a {self.kind} family draws no images; give it no process")
        return self

    @property
    def can_reconstruct(self) -> bool:
        return self.kind == "autoencoder" or self.reconstructs


class ModelSpec(Strict):
    """A model: a folder (or Hub repo) whose card names its family."""

    id: str = Field(pattern=ID_PATTERN, description="model id, '<family>-<dataset>'")
    path: str | None = Field(default=None, description="local folder holding the card")
    repo: str | None = Field(default=None, description="Hub repo 'org/name' or 'org/name@revision'")
    plugin: str = Field(default="", description="stamped by the registry")

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.path is None) == (self.repo is None):
            raise ValueError("a model spec needs exactly one of 'path' or 'repo'")
        return self


class SamplerSpec(Strict):
    """A sampling algorithm over one process, reusable across families."""

    name: str = Field(pattern=SAMPLER_NAME)
    process: Process
    sampler: str = Field(pattern=IMPORT_PATH, description="import path of the Sampler subclass")
    options: str | None = Field(
        default=None,
        pattern=IMPORT_PATH,
        description="import path of the sampler's Options model, importable without torch",
    )
    takes: tuple[Literal["steps", "guidance"], ...] = Field(
        default=(),
        description="shared request fields it uses; a request giving another is refused",
    )
    description: str = Field(default="", max_length=300)
    plugin: str = ""


class DatasetSpec(Strict):
    """A dataset available offline."""

    name: str = Field(pattern=ID_PATTERN)
    loader: str = Field(pattern=IMPORT_PATH, description="import path of the loader function")
    takes_path: bool = Field(
        default=False,
        description=(
            "named as NAME:PATH (e.g. folder:./photos); the loader's first argument is PATH"
        ),
    )
    description: str = Field(default="", max_length=300)
    plugin: str = ""


MAX_PROMPT_CHARS = 10_000
MAX_N = 100_000
MAX_SEED = 2**63 - 1


class Control(Strict):
    """One control image (ControlNet-style models) and how strongly it steers."""

    image: str = Field(min_length=1, description="path of the control image")
    scale: float = Field(default=1.0, ge=0, le=10, description="conditioning scale")


class SampleRequest(Strict):
    """What a user asks of a model: the fields every family shares, and ``options``.

    ``options`` holds what a family or sampler declares for itself (truncation, mix_seed,
    temperature, ...), as given; they are checked against the model's options classes
    before loading (``zoo.catalog.Resolved.check``).
    """

    prompt: str | None = Field(default=None, description="text condition")
    negative_prompt: str | None = Field(default=None, description="text to steer away from")
    label: int | None = Field(default=None, ge=0, description="class label")
    image: str | None = Field(default=None, description="path of a condition image")
    mask: str | None = Field(default=None, description="path of a mask PNG (white = repaint)")
    control: tuple[Control, ...] = Field(default=(), description="control images with scales")
    strength: float | None = Field(
        default=None, gt=0, le=1, description="how far an input image may be changed (img2img)"
    )
    height: int | None = Field(default=None, ge=1, le=8192, description="output height in pixels")
    width: int | None = Field(default=None, ge=1, le=8192, description="output width in pixels")
    n: int = Field(default=1, ge=1, le=MAX_N, description="number of images")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="image i is seeded seed+i")
    steps: int | None = Field(default=None, ge=1, le=10_000, description="sampler steps")
    sampler: str | None = Field(default=None, description="sampler name (default: the model's)")
    guidance: float | None = Field(default=None, ge=0, le=100, description="guidance scale")
    batch_size: int = Field(default=16, ge=1, le=4096, description="images per forward pass")
    options: dict[str, Any] = Field(
        default_factory=dict, description="the family's and the sampler's own options"
    )

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if len(v) > MAX_PROMPT_CHARS:
            raise ValueError(f"prompt has {len(v)} characters; the limit is {MAX_PROMPT_CHARS}")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as e:
            bad = v[e.start]
            code = ord(bad) - 0xDC00 if 0xDC80 <= ord(bad) <= 0xDCFF else ord(bad)
            raise ValueError(
                f"prompt is not valid UTF-8 (byte 0x{code:02x} at position {e.start})"
            ) from None
        return v

    @field_validator("seed")
    @classmethod
    def _last_seed(cls, v: int, info: ValidationInfo) -> int:
        n = info.data.get("n")  # absent when n itself is invalid
        if isinstance(n, int) and v + n - 1 > MAX_SEED:
            raise ValueError(
                f"image i is seeded seed+i and seeds end at {MAX_SEED}; with n={n} the largest"
                f" seed is {MAX_SEED - n + 1}"
            )
        return v

    @field_validator("guidance", "strength", mode="before")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"must be a finite number, got {v}")
        return v

    @field_validator("options")
    @classmethod
    def _option_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in v.items():
            name = key.replace("-", "_")
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
                raise ValueError(f"'{key}' is not an option name")
            out[name] = value
        return out

    def check_against(
        self,
        model: str,
        process: str | None,
        capabilities: tuple[str, ...] | list[str],
        num_classes: int | None = None,
        kind: str = "generator",
        sampler: SamplerSpec | None = None,
    ) -> None:
        """Raise RequestError if this request asks for something the model cannot do.

        Options are checked by their classes (``zoo.registry.options.split_options``);
        this checks the shared fields against the model's capabilities and ``sampler``.
        """
        if kind == "autoencoder":
            raise RequestError(
                f"model '{model}' is an autoencoder: it reconstructs images (`zoo reconstruct "
                f"{model} --image in.png`) but cannot generate: its latent space has no known "
                "distribution to draw from; sample a VAE instead (e.g. `zoo sample vae-digits`)"
            )
        if process is None:
            raise RequestError(
                f"model '{model}' is a reference network (used by `zoo eval`); it does not draw images"
            )
        caps = set(capabilities)
        if self.prompt is not None and "text" not in caps:
            raise RequestError(
                f"model '{model}' does not take a prompt (it {_caps(caps)}); drop --prompt"
            )
        if self.negative_prompt is not None and "text" not in caps:
            raise RequestError(f"model '{model}' does not take a negative prompt")
        if self.label is not None:
            if "class" not in caps:
                raise RequestError(
                    f"model '{model}' does not take a label (it {_caps(caps)}); drop --label"
                )
            if num_classes is not None and self.label >= num_classes:
                raise RequestError(
                    f"label {self.label} is out of range for '{model}'; use 0..{num_classes - 1}"
                )
        if self.image is not None and "image" not in caps:
            raise RequestError(f"model '{model}' does not take an input image; drop --image")
        if self.mask is not None and "mask" not in caps:
            raise RequestError(f"model '{model}' does not take a mask; drop --mask")
        if self.control and "control" not in caps:
            raise RequestError(f"model '{model}' does not take control images; drop --control")
        if self.strength is not None and self.image is None:
            raise RequestError("--strength needs --image (how far that image may be changed)")
        if sampler is not None:
            for name in ("steps", "guidance"):
                if getattr(self, name) is not None and name not in sampler.takes:
                    why = (
                        "it draws images in one shot"
                        if process == "one-shot"
                        else f"its sampler '{sampler.name}' takes no --{name}"
                    )
                    raise RequestError(f"--{name} does not apply to '{model}': {why}")


_TAKES = {
    "class": "a class label",
    "text": "a prompt",
    "image": "an input image",
    "mask": "a mask",
    "control": "control images",
}


def _caps(caps: set[str]) -> str:
    """What a model takes, for "(it ...)" in a refusal: 'takes a class label', 'is unconditional'."""
    if caps <= {"unconditional"}:
        return "is unconditional"
    takes = " or ".join(
        _TAKES.get(c, c) for c in CAPABILITIES if c in caps and c != "unconditional"
    )
    return f"takes {takes}" + (", or nothing" if "unconditional" in caps else "")


class FileEntry(Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Figure(Strict):
    """A table in a model card that is not a `zoo eval` row (a sweep, a comparison),
    with the command that reproduces it."""

    title: str = Field(min_length=1, max_length=200)
    command: str = Field(min_length=1, max_length=1000, description="reproduces the table")
    columns: list[str] = Field(min_length=1)
    rows: list[list[str | int | float | bool | None]] = Field(default_factory=list)
    note: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _widths(self) -> Figure:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row has {len(row)} cells for {len(self.columns)} columns")
        return self


class ComponentSource(Strict):
    """Where one component of a multi-part model comes from: another model, or a subfolder."""

    model: str | None = Field(
        default=None, min_length=1, max_length=300, description="a model id, folder or hf: ref"
    )
    subfolder: str | None = Field(
        default=None,
        pattern=r"^[\w.-]+(/[\w.-]+)*$",
        description="a folder inside this model's folder, laid out as a model of its own",
    )
    dtype: Literal["float32", "float16", "bfloat16"] | None = Field(
        default=None, description="its weights' dtype (default: the device's)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ComponentSource:
        if (self.model is None) == (self.subfolder is None):
            raise ValueError("a component needs exactly one of 'model' or 'subfolder'")
        if self.subfolder is not None and ".." in self.subfolder.split("/"):
            raise ValueError("a component's subfolder must stay inside the model folder")
        return self


class ZooSection(Strict):
    """The `zoo:` block of a model card: what the zoo needs to load the model."""

    family: str = Field(pattern=ID_PATTERN)
    api: int = Field(default=1, ge=1, description="plugin API version the card was written for")
    files: dict[str, FileEntry] = Field(min_length=1, description="weight files and their hashes")
    assets: dict[str, FileEntry] = Field(
        default_factory=dict,
        description="files the network reads besides its weights (a tokenizer's vocabulary and "
        "merges), with their hashes: fetched from the Hub and checked as the weights are",
    )
    revision: str | None = Field(default=None, description="commit the files were pinned to")
    weights_dtype: Literal["float16", "bfloat16"] | None = Field(
        default=None,
        description="the dtype the weight files store when it is narrower than the networks' "
        "(float32): they are cast up on load, by design and without a warning",
    )
    dataset: str | None = None
    default_sampler: str | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    parameters: int | None = Field(default=None, ge=0)
    figures: dict[str, Figure] = Field(
        default_factory=dict, description="tables beyond `zoo eval`'s, by key"
    )
    components: dict[str, ComponentSource] = Field(
        default_factory=dict,
        description="other models or subfolders this model uses, by role (e.g. text_encoder)",
    )

    @field_validator("files")
    @classmethod
    def _safe_names(cls, v: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in v:
            parts = name.split("/")
            if not re.fullmatch(r"([\w.-]+/)*[\w.-]+\.safetensors", name) or any(
                p.startswith(".") for p in parts
            ):
                raise ValueError(
                    f"weight file '{name}' must be a '*.safetensors' name in the model folder "
                    "or one of its subfolders"
                )
        return v


class ModelCard(BaseModel):
    """YAML front matter of a model's README.md, compatible with the Hub's card format.

    Hub fields we do not know are kept (third-party cards carry many); the `zoo`
    section is ours and is strict.
    """

    model_config = ConfigDict(
        extra="allow", allow_inf_nan=False, populate_by_name=True, defer_build=True
    )

    license: str | None = None
    library_name: str | None = None
    pipeline_tag: str | None = None
    tags: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    model_index: list[dict[str, Any]] | None = Field(default=None, alias="model-index")
    zoo: ZooSection

    def unknown_fields(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())
