"""Decoding a request's conditions once, into the tensors generators take.

Generators never see file paths or the request: ``--image``, ``--mask`` and ``--control``
files are read here, checked against the generator's ``image_rule()`` (channels, side
multiples, bounds; a size outside them is refused with the rule rather than resized
silently), and handed over in one ``Conditions`` bundle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo.registry.contracts import Conditions, ControlImage, ImageRule
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.registry.contracts import Generator
    from zoo.registry.schemas import SampleRequest

# control images are read as RGB within these bounds unless the model says otherwise
CONTROL_RULE = ImageRule(channels=3, multiple_of=1, min_size=8, max_size=2048)


def decode(request: SampleRequest, generator: Generator, model: str) -> Conditions:
    """The conditions of ``request`` as ``generator`` takes them."""
    from zoo.images import load_condition, load_mask

    image = None
    if request.image is not None:
        rule = generator.image_rule()
        if rule is None:
            raise RequestError(f"model '{model}' does not take an input image; drop --image")
        image = load_condition(
            request.image,
            rule.channels,
            multiple_of=rule.multiple_of,
            min_size=rule.min_size,
            max_size=rule.max_size,
        )
    mask = None
    if request.mask is not None:
        if image is None:
            raise RequestError("--mask needs --image (the image whose white region is repainted)")
        h, w = image.shape[-2:]
        mask = load_mask(request.mask, (int(h), int(w)))
    control = tuple(
        ControlImage(
            load_condition(
                c.image,
                CONTROL_RULE.channels,
                multiple_of=CONTROL_RULE.multiple_of,
                min_size=CONTROL_RULE.min_size,
                max_size=CONTROL_RULE.max_size,
            ),
            c.scale,
        )
        for c in request.control
    )
    return Conditions(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        label=request.label,
        image=image,
        mask=mask,
        control=control,
        strength=request.strength,
        height=request.height,
        width=request.width,
    )
