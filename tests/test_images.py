"""PNG I/O: metadata round trip, grids, atomic writes."""

from __future__ import annotations

import pytest
import torch

from zoo.images import grid, load_image, read_meta, save_png, to_pil, to_uint8
from zoo.registry.errors import RequestError


def test_metadata_round_trip(tmp_path) -> None:
    img = to_pil(torch.rand(1, 3, 8, 8))[0]
    meta = {"model": "m", "seed": 3, "prompt": "caf\u00e9 \x1b[31m"}
    save_png(img, tmp_path / "a.png", meta)
    assert read_meta(tmp_path / "a.png") == meta
    assert not list(tmp_path.glob(".*.tmp"))


def test_png_without_metadata(tmp_path) -> None:
    to_pil(torch.rand(1, 1, 4, 4))[0].save(tmp_path / "plain.png")
    with pytest.raises(RequestError, match="carries no zoo parameters"):
        read_meta(tmp_path / "plain.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(RequestError, match="cannot read image"):
        read_meta(tmp_path / "junk.png")


def test_grid_places_each_image() -> None:
    x = torch.stack([torch.full((1, 2, 2), i / 10) for i in range(5)])
    g = grid(x, nrow=3, pad=1)
    assert g.shape == (1, 1, 2 * 3 + 1, 3 * 3 + 1)
    assert g[0, 0, 1, 1] == 0.0 and g[0, 0, 1, 4] == pytest.approx(0.1)
    assert g[0, 0, 4, 4] == pytest.approx(0.4)


def test_uint8_rounding_and_reload(tmp_path) -> None:
    x = torch.tensor([0.0, 0.5, 1.0, 0.2]).view(1, 1, 2, 2)
    assert to_uint8(x).ravel().tolist() == [0, 128, 255, 51]
    save_png(to_pil(x)[0], tmp_path / "x.png")
    back = load_image(tmp_path / "x.png", channels=1)
    assert torch.allclose(back, (x * 255).round() / 255)


def test_failed_write_leaves_old_file(tmp_path) -> None:  # S10: atomic
    path = tmp_path / "keep.png"
    save_png(to_pil(torch.zeros(1, 1, 2, 2))[0], path, {"v": 1})

    class Boom:
        def save(self, *a, **k):
            raise OSError("disk full")

    with pytest.raises(OSError):
        save_png(Boom(), path, {"v": 2})  # type: ignore[arg-type]
    assert read_meta(path) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]
