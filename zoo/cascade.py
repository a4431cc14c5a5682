"""Cascades: a model whose images another model finishes (a base, then its upsampler).

A generator asks for one with ``Generator.next_stage`` (see ``zoo.registry.contracts.NextStage``).
``Model.draw`` draws the generator's own images, then hands each to ``run_stage``, which draws
it again through the component model of the stage's role: alone, seeded from the image's own
seed, with the image rounded to 8 bits as its ``image`` condition. Image k of a cascade is
therefore the same whatever batch it is drawn in, and equals what the stage model draws from
the base's PNG of image k with ``--seed stage_seed(seed_k, role)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from operator import mul
from typing import TYPE_CHECKING, Any

from zoo.registry.errors import CardError
from zoo.registry.seeds import stream_seed

if TYPE_CHECKING:
    import torch

    from zoo.api import Model
    from zoo.registry.contracts import Generator, NextStage
    from zoo.registry.options import Options


def stage_seed(seed: int, role: str) -> int:
    """The seed of the next stage (the component of ``role``) for the image seeded ``seed``."""
    return stream_seed(seed, "cascade." + role)


class Tally:
    """Progress over every draw of a request: the (done, total) each sampler reports, added
    to the work of the draws before it. A stage that has not begun is reckoned to cost what
    the draw before it cost, until it reports its own total (exact for a base and one stage
    once the stage has begun)."""

    def __init__(self, report: Callable[[int, int], None] | None) -> None:
        self.report = report
        self.done = 0  # units of the draws that finished
        self.last = 0  # the total of the draw under way

    def part(self, ahead: Callable[[int], int]) -> Callable[[int, int], None] | None:
        """The progress callback of one draw; ``ahead(total)``: the units reckoned for the
        draws after it, given this draw's total."""
        report = self.report
        if report is None:
            return None

        def progress(done: int, total: int) -> None:
            self.last = total
            report(self.done + done, self.done + total + ahead(total))

        return progress

    def finish(self) -> None:
        self.done += self.last
        self.last = 0


def stage_model(model: Model, role: str) -> Model:
    """The component of ``role`` loaded as a model of its own (the one ``zoo.load`` attached)."""
    from zoo.api import component_sources, load

    sources = component_sources(model.generator, model.resolved)
    if role not in sources:
        raise CardError(
            f"model '{model.id}' asks its '{role}' component to finish its images, but its "
            f"card names none; set zoo.components.{role} in its README.md"
        )
    target, dtype = sources[role]
    nxt = load(target, device=str(model.device), dtype=dtype)
    if nxt.generator.image_rule() is None:
        raise CardError(
            f"the '{role}' component of '{model.id}' ({nxt.id}) takes no input image, so it "
            f"cannot finish a cascade; point zoo.components.{role} at a model that does"
        )
    return nxt


def stage_image(image: torch.Tensor, generator: Generator, where: str) -> torch.Tensor:
    """(1, C, H, W) in [0, 1] rounded to 8 bits, exactly as ``--image`` reads its PNG."""
    import torch

    from zoo.images import to_uint8

    rule = generator.image_rule()
    if rule is not None and rule.channels != image.shape[1]:
        raise CardError(
            f"{where} reads {rule.channels}-channel images; the model before it draws "
            f"{image.shape[1]}-channel ones"
        )
    return torch.from_numpy(to_uint8(image)).permute(0, 3, 1, 2).contiguous().float().div(255)


def carried(given: Options, cls: type[Options]) -> Options:
    """The sampler options a stage's sampler takes from the request: those given that its
    options class also has (``--autocast none`` reaches every stage); the rest its defaults."""
    fields = given.model_dump()
    return cls(**{k: fields[k] for k in given.model_fields_set if k in cls.model_fields})


def run_stage(
    model: Model,
    stage: NextStage,
    nxt: Model,
    images: torch.Tensor,
    seeds: list[int],
    sampler_options: Options,
    tally: Tally,
) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """Each of ``images`` (drawn by ``model`` with ``seeds``) drawn again by ``nxt``.

    Returns the finished images and what each stage drew with (for the records).
    """
    import torch

    spec = nxt.resolved.sampler_spec(stage.sampler)
    if spec is None:
        raise CardError(f"the '{stage.role}' component of '{model.id}' draws no images")
    classes = nxt.resolved.option_classes(spec)
    options, own = classes["family"](), carried(sampler_options, classes["sampler"])
    where = f"the '{stage.role}' component of '{model.id}' ({nxt.id})"
    out: list[torch.Tensor] = []
    later: list[dict[str, Any]] = []
    for k, seed in enumerate(seeds):
        image = stage_image(images[k : k + 1], nxt.generator, where)
        drawn, later = nxt.draw(
            replace(stage.stage_conditions, image=image),
            [stage_seed(seed, stage.role)],
            options=options,
            sampler=spec.name,
            sampler_options=own,
            steps=stage.steps,
            guidance=None,
            batch_size=1,
            tally=tally,
            ahead=partial(mul, len(seeds) - k - 1),  # the images still to finish
        )
        out.append(drawn)
    record: dict[str, Any] = {
        "role": stage.role,
        "model": nxt.id,
        "revision": nxt.resolved.revision,
        "sampler": spec.name,
    }
    if stage.steps is not None:
        record["steps"] = stage.steps
    return torch.cat(out), [record, *later]
