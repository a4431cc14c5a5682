"""Training latent diffusion here: the klvae family (the autoencoder alone) and the ldm recipe
(U-Net and text encoder on a frozen klvae model's latents), at tiny sizes, a few steps each."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import run_zoo
from zoo.registry.errors import RequestError

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_VAE_C2 = {  # the tiny preset's autoencoder with 2 latent channels (the U-Net takes 4)
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
    "block_out_channels": [8, 8],
    "norm_num_groups": 4,
    "latent_channels": 2,
}


@pytest.fixture(scope="module")
def klvae(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`zoo train klvae --data scenes --preset tiny --steps 3`, through the CLI."""
    out = tmp_path_factory.mktemp("klvae") / "klvae-tiny"
    done = run_zoo(
        "train", "klvae", "--data", "scenes", "--preset", "tiny", "--steps", "3",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def ldm(klvae: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zoo.train import train

    out = tmp_path_factory.mktemp("ldm") / "ldm-tiny"
    sets = {"autoencoder": str(klvae)}
    train("ldm", "scenes", out, preset="tiny", steps=3, sets=sets, progress=False)
    return out


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


# -- klvae -----------------------------------------------------------------------------


def test_klvae_scaling_factor_gives_its_training_latents_unit_std(klvae: Path) -> None:
    import zoo
    from zoo.data import load_split

    scale = _config(klvae)["vae"]["scaling_factor"]
    assert math.isfinite(scale) and scale > 0
    assert scale != pytest.approx(0.18215)  # not the default: set from the data
    # the loaded network scales by it: z ~ q(z|x) of the images it was measured on, times
    # scaling_factor, has unit std (up to the draw of the noise)
    vae = zoo.load(str(klvae)).network.vae
    x = load_split("scenes", "train", 8)["image"][:16] * 2 - 1
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        noise = torch.randn(16, 4, 4, 4, generator=g)
        z = vae.latents(x, noise=noise)
    assert float(z.std()) == pytest.approx(1.0, rel=0.1)


def test_klvae_reconstructs_through_the_cli(klvae: Path, tmp_path: Path) -> None:
    from PIL import Image

    from zoo.images import save_png, to_pil

    image = tmp_path / "in.png"
    save_png(to_pil(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)))[0], image)
    out = tmp_path / "again.png"
    done = run_zoo("reconstruct", str(klvae), "--image", str(image), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (8, 8)
    done = run_zoo("sample", str(klvae))
    assert done.returncode == 2 and "reconstruct" in done.stderr


# -- ldm -------------------------------------------------------------------------------


def test_ldm_draws_from_a_prompt_and_from_unknown_words(ldm: Path) -> None:
    import zoo

    model = zoo.load(str(ldm))
    for prompt in ("a red circle", "zorblax qwifty ünïcode 🙂"):
        images = model.sample(n=2, seed=0, prompt=prompt, steps=2).images
        assert images.shape == (2, 3, 16, 16)
        assert bool(torch.isfinite(images).all()) and 0 <= float(images.min()) <= 1
    # the learned BPE reads any text: unknown words fall apart into known pieces, not <unk>
    tokenizer = model.network.tokenizer
    text = "zorblax qwifty ünïcode"
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_ldm_folder_holds_the_frozen_autoencoder_and_the_learned_tokenizer(
    ldm: Path, klvae: Path
) -> None:
    config, source = _config(ldm), _config(klvae)
    assert config["autoencoder"] is None  # a trained model loads without its klvae model
    assert config["vae"] == source["vae"]  # scaling_factor included
    weights, vae_weights = (
        load_file(ldm / "model.safetensors"),
        load_file(klvae / "model.safetensors"),
    )
    mine = {k: v for k, v in weights.items() if k.startswith("vae.")}
    assert mine.keys() == vae_weights.keys()
    assert all(torch.equal(mine[k], vae_weights[k]) for k in mine)
    # the tokenizer was learned from the captions (merges), and the text config names its ids
    vocab = json.loads((ldm / "tokenizer" / "vocab.json").read_text())
    assert 514 < len(vocab) <= config["text_encoder"]["vocab_size"]
    assert config["text_encoder"]["eos_token_id"] == vocab["<|endoftext|>"]
    assert config["text_encoder"]["bos_token_id"] == vocab["<|startoftext|>"]
    card = (ldm / "README.md").read_text()
    loss = float(card.split("final_losses:")[1].split("loss:")[1].split()[0])
    assert math.isfinite(loss) and loss > 0


def test_ldm_step_trains_unet_and_text_encoder_not_the_autoencoder() -> None:
    from zoo.plugins.ldm.config import LDMConfig
    from zoo.plugins.ldm.model import LatentDiffusionGenerator
    from zoo.plugins.ldm.train import LDMRecipe

    torch.manual_seed(0)
    config = LDMConfig.preset("tiny")
    generator = LatentDiffusionGenerator(config)
    recipe = LDMRecipe(generator, config, torch.device("cpu"))
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    batch = {"image": torch.rand(4, 3, 16, 16), "caption": ["a red circle"] * 4}
    recipe.step(batch)
    after = generator.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"unet", "text_encoder"}


def test_ldm_drops_captions_to_the_empty_prompt() -> None:
    from zoo.plugins.ldm.config import LDMConfig
    from zoo.plugins.ldm.model import LatentDiffusionGenerator
    from zoo.plugins.ldm.train import LDMRecipe

    config = LDMConfig.preset("tiny", caption_dropout=0.5)
    recipe = LDMRecipe(LatentDiffusionGenerator(config), config, torch.device("cpu"))
    torch.manual_seed(0)
    texts = recipe._captions({"caption": ["a blue square"] * 400})
    assert set(texts) == {"", "a blue square"}
    assert 0.4 < texts.count("") / 400 < 0.6


def test_ldm_without_an_autoencoder_is_one_line_before_training(tmp_path: Path) -> None:
    done = run_zoo(
        "train", "ldm", "--data", "scenes", "--preset", "tiny", "--steps", "3",
        "--set", "autoencoder=null", "--out", str(tmp_path / "m"), "--quiet",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "--set autoencoder=" in done.stderr and "klvae" in done.stderr
    assert not (tmp_path / "m" / "README.md").exists()


def test_ldm_refuses_an_autoencoder_whose_latents_do_not_fit_the_unet(tmp_path: Path) -> None:
    from zoo.train import train

    small = train(
        "klvae", "scenes", tmp_path / "klvae-c2", preset="tiny", steps=1,
        sets={"vae": TINY_VAE_C2}, progress=False,
    )  # fmt: skip
    with pytest.raises(RequestError) as err:
        train(
            "ldm", "scenes", tmp_path / "ldm", preset="tiny", steps=3,
            sets={"autoencoder": str(small)}, progress=False,
        )  # fmt: skip
    message = str(err.value)
    assert "\n" not in message and "(2, H/2, W/2) latents" in message and "4 channels" in message
    assert not (tmp_path / "ldm" / "README.md").exists()


def test_ldm_refuses_a_model_that_is_not_a_kl_autoencoder(tmp_path: Path) -> None:
    from zoo.train import train

    with pytest.raises(RequestError, match="holds no KL autoencoder; name a klvae model"):
        train(
            "ldm", "scenes", tmp_path / "ldm", preset="tiny", steps=3,
            sets={"autoencoder": "ae-digits"}, progress=False,
        )  # fmt: skip


def test_ldm_refuses_more_merges_than_the_text_encoder_embeds() -> None:
    from zoo.plugins.ldm.config import LDMConfig
    from zoo.plugins.ldm.model import LatentDiffusionGenerator
    from zoo.plugins.ldm.train import LDMRecipe

    config = LDMConfig.preset("tiny", tokenizer_merges=100)
    with pytest.raises(RequestError, match="lower tokenizer_merges to 46"):
        LDMRecipe(LatentDiffusionGenerator(config), config, torch.device("cpu"))
