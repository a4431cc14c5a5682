"""zoo.hub against a fake Hub: the real huggingface_hub download code, faults injected.

huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when it is imported, so
every pull runs in a fresh process with its own environment. Rows H2-H8 and C5
of RELIABILITY.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import default_sigint
from tests.fakehub import FakeHub
from zoo import hub as zhub
from zoo.registry.cards import render_card
from zoo.registry.errors import HubError
from zoo.registry.schemas import FileEntry, ModelCard, ZooSection

REPO = "org/tiny"
WEIGHTS = "model.safetensors"

PULL = r"""
import json, sys
from zoo.hub import snapshot
from zoo.registry.errors import ZooError
results = []
for repo, rev, force in json.loads(sys.argv[1]):
    try:
        path = snapshot(repo, rev or None, force=force)
    except ZooError as err:
        results.append({"error": type(err).__name__, "message": str(err), "code": err.exit_code})
    else:
        results.append({"path": str(path)})
print(json.dumps(results))
"""


@dataclass
class Pull:
    path: Path | None
    error: str | None
    message: str
    stderr: str


def clean_env(endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE_", "ZOO_", "TRANSFORMERS_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def pull_many(env: dict[str, str], calls: list[tuple[str, str, bool]]) -> list[Pull]:
    """Run ``snapshot(repo, revision, force=...)`` for each call, in one fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", PULL, json.dumps(calls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return [
        Pull(
            Path(r["path"]) if "path" in r else None,
            r.get("error"),
            r.get("message", ""),
            proc.stderr,
        )
        for r in results
    ]


def pull(env: dict[str, str], repo: str = REPO, revision: str = "", force: bool = False) -> Pull:
    return pull_many(env, [(repo, revision, force)])[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_repo(
    folder: Path, *, weights: bool = True, pickle: bool = False, listed: str = WEIGHTS
) -> Path:
    """A zoo model folder: a tiny safetensors file and a card listing its hash."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    blob = folder / "tmp.safetensors"
    save_file({"net.weight": torch.zeros(4, 4), "net.bias": torch.arange(4.0)}, blob)
    entry = FileEntry(sha256=sha256(blob), size=blob.stat().st_size)
    if weights:
        blob.rename(folder / WEIGHTS)
    else:
        blob.unlink()
    if pickle:
        (folder / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")  # never fetched, never read
    card = ModelCard(library_name="zoo", zoo=ZooSection(family="dcgan", files={listed: entry}))
    (folder / "README.md").write_text(render_card(card, "# tiny\n\nA test model.\n"))
    (folder / "config.json").write_text("{}")
    return folder


def cache_of(home: Path) -> Path:
    return home / "hub" / "models--org--tiny"


def final_names(home: Path) -> list[Path]:
    """Every weight file under a final name in the cache: snapshot links and blobs."""
    storage = cache_of(home)
    return sorted(
        [p for p in storage.glob("snapshots/*/*.safetensors")]
        + [p for p in storage.glob("blobs/*") if len(p.name) == 64]
    )


def leftovers(home: Path) -> list[Path]:
    return sorted(home.rglob("*.incomplete"))


@pytest.fixture
def fake(tmp_path: Path):
    with FakeHub() as hub:
        hub.add_repo(REPO, make_repo(tmp_path / "repo"))
        yield hub


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "hf"


def test_good_pull_then_cache_offline(
    fake: FakeHub, home: Path, tmp_path: Path, monkeypatch
) -> None:
    got = pull(clean_env(fake.url, home))
    assert got.error is None, got.message
    assert got.path is not None
    for name in ("README.md", "config.json", WEIGHTS):
        assert (got.path / name).is_file()
    assert sha256(got.path / WEIGHTS) == sha256(tmp_path / "repo" / WEIGHTS)
    assert not any(p.endswith(".bin") for _, p, _ in fake.requests)
    assert leftovers(home) == []

    # no network at all: the server is gone and offline mode is on
    fake.stop()
    again = pull(clean_env(fake.url, home, HF_HUB_OFFLINE="1"))
    assert again.error is None, again.message
    assert again.path == got.path

    # the same folder, found without huggingface_hub
    for var in ("ZOO_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    assert zhub.cached_snapshot(REPO) == got.path
    assert zhub.cached_snapshot(REPO, got.path.name) == got.path
    assert zhub.cached_snapshot("org/other") is None
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "elsewhere"))
    assert zhub.cached_snapshot(REPO) is None


def test_force_downloads_again(fake: FakeHub, home: Path) -> None:
    env = clean_env(fake.url, home)
    assert pull(env).error is None
    fake.requests.clear()
    assert pull(env).error is None
    assert not [r for r in fake.requests if r[0] == "GET" and r[1].startswith("/cdn/")]
    got = pull(env, force=True)
    assert got.error is None, got.message
    assert [r for r in fake.requests if r[0] == "GET" and r[1].startswith("/cdn/")]


def test_interrupted_download_leaves_no_final_file(fake: FakeHub, home: Path) -> None:
    # H7: the connection drops after 40 bytes, and every resume attempt is dropped too
    fake.truncate = {WEIGHTS: 40}
    env = clean_env(fake.url, home)
    got = pull(env)
    assert got.error == "HubError", got.message
    assert "interrupted" in got.message and "zoo pull" in got.message
    assert final_names(home) == []
    assert leftovers(home) == []
    cdn_gets = [r for r in fake.requests if r[0] == "GET" and r[1].startswith("/cdn/")]
    assert len(cdn_gets) > 1, "huggingface_hub retries a dropped transfer in-process"

    fake.clear_faults()
    ok = pull(env)
    assert ok.error is None, ok.message
    assert (ok.path / WEIGHTS).is_file()


def test_ctrl_c_during_download(fake: FakeHub, home: Path) -> None:
    # H7: Ctrl-C stops the transfer at once: exit 130, temp file gone, no final name
    fake.stall = {WEIGHTS: 40}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "pull", f"hf:{REPO}"],
        env=clean_env(fake.url, home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(r[1].startswith("/cdn/") for r in fake.requests):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.3)  # into the transfer
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "zoo: aborted" in err or "zoo: interrupted" in err  # click turns Ctrl-C into Abort
    assert final_names(home) == []
    assert leftovers(home) == []


def test_dropped_connection_is_retried(fake: FakeHub, home: Path) -> None:
    # huggingface_hub retries within one process; it resumes with a Range request only
    # from the last full 10 MiB chunk, so a tiny file is simply fetched again
    fake.truncate = {WEIGHTS: 40}
    fake.truncate_times = 1
    got = pull(clean_env(fake.url, home))
    assert got.error is None, got.message
    assert got.path is not None
    cdn = f"/cdn/{sha256(got.path / WEIGHTS)}"
    assert [r for r in fake.requests if r[:2] == ("GET", cdn)] == [("GET", cdn, "")] * 2


def test_tampered_download_is_removed(fake: FakeHub, home: Path) -> None:
    # H8: same size, other bytes; huggingface_hub checks only the size
    fake.tampered = {WEIGHTS}
    env = clean_env(fake.url, home)
    got = pull(env)
    assert got.error == "IntegrityError", got.message
    assert "hash mismatch" in got.message and "removed" in got.message
    assert final_names(home) == []

    fake.clear_faults()
    assert pull(env).error is None


def test_corrupt_cached_blob_is_caught(fake: FakeHub, home: Path) -> None:
    # H8: the hub trusts cache hits, zoo does not
    env = clean_env(fake.url, home)
    good = pull(env)
    assert good.path is not None
    blob = Path(os.path.realpath(good.path / WEIGHTS))
    blob.write_bytes(bytes(blob.stat().st_size))
    bad = pull(env)
    assert bad.error == "IntegrityError", bad.message
    assert not blob.exists() and not (good.path / WEIGHTS).exists()
    again = pull(env)
    assert again.error is None, again.message
    assert sha256(again.path / WEIGHTS) == sha256(Path(os.path.realpath(again.path / WEIGHTS)))


def test_offline_and_not_cached(fake: FakeHub, home: Path) -> None:
    got = pull(clean_env(fake.url, home, HF_HUB_OFFLINE="1"))
    assert got.error == "HubError"
    assert "offline mode is on" in got.message and "HF_HUB_OFFLINE" in got.message
    assert "zoo pull" not in got.message  # issue 14.10: it may be `zoo pull` that failed
    assert fake.requests == []


def test_network_down_and_not_cached(home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    got = pull(clean_env(f"http://127.0.0.1:{port}", home))
    assert got.error == "HubError"
    assert "cannot reach the Hub" in got.message and "offline" not in got.message
    assert "zoo pull" not in got.message


def test_offline_with_partial_cache(fake: FakeHub, home: Path) -> None:
    # H6: the card is cached but the weights are not
    env = clean_env(fake.url, home)
    good = pull(env)
    assert good.path is not None
    link = good.path / WEIGHTS
    Path(os.path.realpath(link)).unlink()
    link.unlink()
    got = pull(clean_env(fake.url, home, HF_HUB_OFFLINE="1"))
    assert got.error == "HubError"
    assert "offline mode is on" in got.message and WEIGHTS in got.message
    assert "zoo pull" not in got.message


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Pull], list]:
    """Requests the Hub refuses, all pulled in one process (each would cost a start-up)."""
    tmp = tmp_path_factory.mktemp("refusals")
    cases = {
        "missing_repo": ("org/nope", "", False),
        "gated": ("org/gated", "", False),
        "missing_revision": (REPO, "v9", False),
        "pickle_only": ("org/pickled", "", False),
        "stale_card": ("org/stale", "", False),
        "no_card": ("org/nocard", "", False),
    }
    with FakeHub() as hub:
        hub.add_repo(REPO, make_repo(tmp / "repo"))
        hub.add_repo("org/gated", make_repo(tmp / "gated"))
        hub.gated = {"org/gated"}
        # C5 / W8: a card that names safetensors over a repo holding only a pickle
        hub.add_repo("org/pickled", make_repo(tmp / "pickled", weights=False, pickle=True))
        hub.add_repo("org/stale", make_repo(tmp / "stale", listed="other.safetensors"))
        (make_repo(tmp / "nocard") / "README.md").unlink()
        hub.add_repo("org/nocard", tmp / "nocard")
        results = pull_many(clean_env(hub.url, tmp / "hf"), list(cases.values()))
        return dict(zip(cases, results, strict=True)), list(hub.requests)


def test_missing_repo(refusals) -> None:
    got = refusals[0]["missing_repo"]
    assert got.error == "HubError"
    assert "org/nope not found" in got.message and "hf auth login" in got.message


def test_gated_repo(refusals) -> None:
    got = refusals[0]["gated"]
    assert got.error == "HubError"
    assert "org/gated is gated" in got.message


def test_missing_revision(refusals) -> None:
    got = refusals[0]["missing_revision"]
    assert got.error == "HubError"
    assert "revision 'v9' not found in org/tiny" in got.message


def test_pickle_only_repo_is_refused(refusals) -> None:
    got = refusals[0]["pickle_only"]
    assert got.error == "PickleRefusedError"
    assert "only safetensors is supported" in got.message and "pytorch_model.bin" in got.message
    assert not any(path.endswith(".bin") for _, path, _ in refusals[1])


def test_card_names_a_file_the_repo_lacks(refusals) -> None:
    # H4
    got = refusals[0]["stale_card"]
    assert got.error == "HubError"
    assert "other.safetensors is not in org/stale" in got.message
    assert "card may be out of date" in got.message


def test_repo_without_card(refusals) -> None:
    # C7
    got = refusals[0]["no_card"]
    assert got.error == "CardError"
    assert "org/nocard@main has no README.md model card" in got.message


def test_cli_pull(fake: FakeHub, home: Path) -> None:
    env = clean_env(fake.url, home)
    ok = subprocess.run(
        [sys.executable, "-m", "zoo", "pull", f"hf:{REPO}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    folder = Path(ok.stdout.strip().splitlines()[-1])
    assert (folder / WEIGHTS).is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "zoo", "pull", "hf:org/nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("zoo: repo org/nope not found"), bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("hf:org/name", ("org/name", None)),
        ("hf:org/name@main", ("org/name", "main")),
        ("org/my_model.v2@refs/pr/1", ("org/my_model.v2", "refs/pr/1")),
        ("hf:org/name@" + "a" * 40, ("org/name", "a" * 40)),
    ],
)
def test_parse_ref(ref: str, expected: tuple[str, str | None]) -> None:
    assert zhub.parse_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "hf:name",
        "hf:org/na..me",
        "hf:org/../x",
        "hf:org/a--b",
        "hf:/abs",
        "hf:org/name@",
        "hf:org/name@../x",
        "hf:org/name@-x",
        "hf:org/x y",
        "hf:org/\x1b[31mred",
        "hf:a/b/c",
    ],
)
def test_parse_ref_rejects(ref: str) -> None:
    with pytest.raises(HubError, match="not a"):
        zhub.parse_ref(ref)


def test_from_pulls_only_when_allowed(tiny_dcgan: Path, tmp_path: Path) -> None:  # issue 14.9
    from PIL import Image

    from zoo.images import read_meta, save_png

    home = tmp_path / "hf"
    with FakeHub() as hub:
        commit = hub.add_repo("org/dcgan", tiny_dcgan)
        env = clean_env(hub.url, home)

        def zoo(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "zoo", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        local = tmp_path / "local.png"
        assert zoo("sample", str(tiny_dcgan), "--seed", "4", "-o", str(local)).returncode == 0
        # the same image, as someone else's PNG naming the Hub repository
        meta = {**read_meta(local), "model": "hf:org/dcgan", "revision": commit}
        foreign = tmp_path / "foreign.png"
        with Image.open(local) as im:
            save_png(im.copy(), foreign, meta)

        refused = zoo("sample", "--from", str(foreign), "-o", str(tmp_path / "a.png"))
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert "names the Hub repository hf:org/dcgan" in refused.stderr
        assert "pass --allow-pull" in refused.stderr
        assert hub.requests == [] and not (tmp_path / "a.png").exists()

        pulled = zoo(
            "sample", "--from", str(foreign), "--allow-pull", "-o", str(tmp_path / "a.png")
        )
        assert pulled.returncode == 0, pulled.stderr[-2000:]
        with Image.open(local) as a, Image.open(tmp_path / "a.png") as b:
            assert a.tobytes() == b.tobytes()

        hub.requests.clear()  # cached now: replayed without the flag, and without the network
        again = zoo("sample", "--from", str(foreign), "-o", str(tmp_path / "b.png"))
        assert again.returncode == 0, again.stderr[-2000:]
        assert hub.requests == []

        alone = zoo("sample", str(tiny_dcgan), "--allow-pull", "-o", str(tmp_path / "c.png"))
        assert alone.returncode == 2 and "--allow-pull applies to --from only" in alone.stderr


def test_a_models_assets_are_pulled_and_checked(tmp_path: Path, home: Path) -> None:
    """A model that reads files besides its weights (a BPE tokenizer) lists them in its
    card's assets: a pull fetches them with the weights, and a changed one is caught."""
    import shutil

    from zoo.registry.cards import read_card
    from zoo.train import train

    folder = tmp_path / "glide-tiny"
    train("glide", "scenes", folder, preset="tiny", steps=1, progress=False)
    card, _ = read_card(folder)
    assert set(card.zoo.assets) == {
        p.relative_to(folder).as_posix() for p in (folder / "tokenizer").iterdir()
    }
    assert "tokenizer/vocab.json" in card.zoo.assets
    assert not list(folder.glob(".assets-*"))  # the staging folder is gone

    draw = r"""
import sys, zoo
print(zoo.load(sys.argv[1]).sample(n=1, seed=0, prompt="a red circle").images.shape)
"""
    with FakeHub() as hub:
        hub.add_repo("org/glide", folder)
        env = clean_env(hub.url, home)
        got = pull(env, "org/glide")
        assert got.error is None, got.message
        assert got.path is not None and (got.path / "tokenizer" / "merges.txt").is_file()
        fetched = {p for _, p, _ in hub.requests}
        assert any(p.endswith("tokenizer/vocab.json") for p in fetched)
        proc = subprocess.run(
            [sys.executable, "-c", draw, "hf:org/glide"], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "torch.Size([1, 3, 8, 8])" in proc.stdout

        # a repo whose merges differ from its card's hash is refused at the pull
        bad = Path(shutil.copytree(folder, tmp_path / "bad"))
        with open(bad / "tokenizer" / "merges.txt", "a") as f:
            f.write("z z\n")
        hub.add_repo("org/bad", bad)
        refused = pull(env, "org/bad")
        assert refused.error == "IntegrityError", refused.message
        assert "tokenizer/merges.txt" in refused.message

    # and locally, a load checks them too: one line naming the file
    with open(folder / "tokenizer" / "merges.txt", "a") as f:
        f.write("z z\n")
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", "sample", str(folder), "--prompt", "a red circle",
         "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "file tokenizer/merges.txt of" in proc.stderr and "Traceback" not in proc.stderr
