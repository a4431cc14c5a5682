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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    generator: str = Field(
        pattern=IMPORT_PATH,
        description="import path of the Generator subclass (or of the reference network)",
    )
    trainer: str | None = Field(
        default=None, pattern=IMPORT_PATH, description="import path of the training recipe"
    )
    options: tuple[str, ...] = Field(
        default=(),
        description="optional request fields its models accept (see OPTIONS), e.g. 'truncation'",
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
        unknown = [o for o in self.options if o not in OPTIONS]
        if unknown:
            raise ValueError(f"unknown options {unknown}; choose from {', '.join(OPTIONS)}")
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

    name: str = Field(pattern=ID_PATTERN)
    process: Process
    sampler: str = Field(pattern=IMPORT_PATH, description="import path of the Sampler subclass")
    description: str = Field(default="", max_length=300)
    plugin: str = ""


class DatasetSpec(Strict):
    """A dataset available offline."""

    name: str = Field(pattern=ID_PATTERN)
    loader: str = Field(pattern=IMPORT_PATH, description="import path of the loader function")
    description: str = Field(default="", max_length=300)
    plugin: str = ""


# Request fields a family must declare in FamilySpec.options before its models accept them.
OPTIONS: dict[str, str] = {
    "truncation": "truncation psi: trade variety for fidelity",
    "direction": "which way an unpaired translator maps: a2b or b2a",
    "mix_seed": "style mixing: the seed of a second latent",
    "mix_layers": "style mixing: which layers take the second latent (coarse or fine)",
    "noise": "per-layer noise inputs on (default) or off",
    "stage": "which stage of a multi-stage model to return (1 = the first)",
    "temperature": "softmax temperature of token sampling",
    "top_k": "sample among the k most likely tokens",
    "top_p": "sample among the most likely tokens holding probability p",
    "rerank": "draw N candidates per image and keep the best by the model's score",
}

MAX_PROMPT_CHARS = 10_000
MAX_N = 100_000
MAX_SEED = 2**63 - 1


class SampleRequest(Strict):
    """What a user asks of a model. Validated against the model before loading it."""

    prompt: str | None = Field(default=None, description="text condition")
    negative_prompt: str | None = Field(default=None, description="text to steer away from")
    label: int | None = Field(default=None, ge=0, description="class label")
    n: int = Field(default=1, ge=1, le=MAX_N, description="number of images")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="image i is seeded seed+i")
    steps: int | None = Field(default=None, ge=1, le=10_000, description="sampler steps")
    sampler: str | None = Field(default=None, description="sampler name (default: the model's)")
    guidance: float | None = Field(default=None, ge=0, le=100, description="guidance scale")
    truncation: float | None = Field(default=None, gt=0, le=10, description="truncation psi")
    image: str | None = Field(default=None, description="path of a condition image")
    direction: Literal["a2b", "b2a"] | None = Field(default=None, description=OPTIONS["direction"])
    mix_seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description=OPTIONS["mix_seed"])
    mix_layers: Literal["coarse", "fine"] | None = Field(
        default=None, description=OPTIONS["mix_layers"]
    )
    noise: bool | None = Field(default=None, description=OPTIONS["noise"])
    stage: int | None = Field(default=None, ge=1, le=8, description=OPTIONS["stage"])
    temperature: float | None = Field(default=None, gt=0, le=10, description=OPTIONS["temperature"])
    top_k: int | None = Field(default=None, ge=1, le=1_000_000, description=OPTIONS["top_k"])
    top_p: float | None = Field(default=None, gt=0, le=1, description=OPTIONS["top_p"])
    rerank: int | None = Field(default=None, ge=1, le=64, description=OPTIONS["rerank"])
    batch_size: int = Field(default=16, ge=1, le=4096, description="images per forward pass")

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

    @field_validator("guidance", "truncation", "temperature", "top_p", mode="before")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"must be a finite number, got {v}")
        return v

    def check_against(
        self,
        model: str,
        process: str | None,
        capabilities: tuple[str, ...] | list[str],
        num_classes: int | None = None,
        options: tuple[str, ...] | list[str] | None = None,
        kind: str = "generator",
    ) -> None:
        """Raise RequestError if this request asks for something the model cannot do.

        ``options`` are the family's declared OPTIONS; None skips that check.
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
        if options is not None:
            for name in OPTIONS:
                if getattr(self, name) is not None and name not in options:
                    accepted = ", ".join("--" + o.replace("_", "-") for o in options) or "none"
                    raise RequestError(
                        f"--{name.replace('_', '-')} does not apply to '{model}' "
                        f"(its options: {accepted})"
                    )
        if self.mix_layers is not None and self.mix_seed is None:
            raise RequestError("--mix-layers needs --mix-seed (the seed of the second latent)")
        caps = set(capabilities)
        if self.prompt is not None and "text" not in caps:
            raise RequestError(
                f"model '{model}' does not take a prompt (it is {_caps(caps)}); drop --prompt"
            )
        if self.negative_prompt is not None and "text" not in caps:
            raise RequestError(f"model '{model}' does not take a negative prompt")
        if self.label is not None:
            if "class" not in caps:
                raise RequestError(
                    f"model '{model}' does not take a label (it is {_caps(caps)}); drop --label"
                )
            if num_classes is not None and self.label >= num_classes:
                raise RequestError(
                    f"label {self.label} is out of range for '{model}'; use 0..{num_classes - 1}"
                )
        if self.image is not None and not caps & {"image", "control"}:
            raise RequestError(f"model '{model}' does not take an input image; drop --image")
        if process == "one-shot":
            for name in ("steps", "guidance"):
                if getattr(self, name) is not None:
                    raise RequestError(
                        f"--{name} does not apply to '{model}': it draws images in one shot"
                    )


def _caps(caps: set[str]) -> str:
    return "/".join(sorted(caps))


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


class ZooSection(Strict):
    """The `zoo:` block of a model card: what the zoo needs to load the model."""

    family: str = Field(pattern=ID_PATTERN)
    api: int = Field(default=1, ge=1, description="plugin API version the card was written for")
    files: dict[str, FileEntry] = Field(min_length=1, description="weight files and their hashes")
    revision: str | None = Field(default=None, description="commit the files were pinned to")
    dataset: str | None = None
    default_sampler: str | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    parameters: int | None = Field(default=None, ge=0)
    figures: dict[str, Figure] = Field(
        default_factory=dict, description="tables beyond `zoo eval`'s, by key"
    )

    @field_validator("files")
    @classmethod
    def _safe_names(cls, v: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in v:
            if not re.fullmatch(r"[\w.-]+\.safetensors", name) or name.startswith("."):
                raise ValueError(
                    f"weight file '{name}' must be a plain '*.safetensors' name in the model folder"
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
