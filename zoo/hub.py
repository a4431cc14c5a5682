"""Models on the Hugging Face Hub: ``hf:org/name[@revision]`` to a verified local folder.

Downloads go through huggingface_hub into its standard cache (``HF_HUB_CACHE``,
``HF_HOME``; ``ZOO_CACHE`` overrides), so other tools share the files. The hub
writes each download to a temporary file and renames it, but it checks only the
size, never the hash, and trusts cache hits. So after every pull the weight
files are checked against the sha256 in the model card; a file that fails is
removed from the cache, so nothing bad stays under its final name.

Only README.md, config.json and the ``*.safetensors`` files the card lists are
fetched: pickle checkpoints are never downloaded.

huggingface_hub is imported inside the functions: it reads ``HF_ENDPOINT`` and
``HF_HUB_OFFLINE`` at import time, and ``zoo list`` must start fast. Rows H1-H17
of RELIABILITY.md are the specification.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from pathlib import Path

from zoo.registry.cards import CARD_FILE, CONFIG_FILE, read_card
from zoo.registry.errors import (
    CardError,
    HubError,
    IntegrityError,
    PickleRefusedError,
    ResourceError,
    ZooError,
)
from zoo.registry.schemas import FileEntry
from zoo.weights import PICKLE_SUFFIXES, entry_mismatch

__all__ = ["HF_PREFIX", "cache_dir", "cached_snapshot", "parse_ref", "snapshot"]

HF_PREFIX = "hf:"

# the Hub's own rules: word characters, '-' and '.', no '--' or '..', at most 96 each
_NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_REPO_RE = re.compile(rf"{_NAME}/{_NAME}")
_REVISION_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,254}")
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")


def _show(text: str, limit: int = 80) -> str:
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _check_repo(repo_id: str, ref: str) -> None:
    if not _REPO_RE.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise HubError(
            f"'{_show(ref)}' is not a Hub model reference; use hf:org/name or"
            " hf:org/name@revision (letters, digits, '_', '-', '.')"
        )


def _check_revision(revision: str, ref: str) -> None:
    if (
        not _REVISION_RE.fullmatch(revision)
        or ".." in revision
        or "//" in revision
        or revision.endswith(("/", ".lock"))
    ):
        raise HubError(
            f"'{_show(revision)}' in '{_show(ref)}' is not a valid revision; use a branch,"
            " tag or commit hash"
        )


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split ``hf:org/name[@revision]`` (the ``hf:`` prefix is optional) into (repo_id, revision).

    Raises:
        HubError: the name or revision has characters the Hub does not allow.
    """
    text = ref[len(HF_PREFIX) :] if ref.startswith(HF_PREFIX) else ref
    repo_id, at, revision = text.partition("@")
    _check_repo(repo_id, ref)
    if not at:
        return repo_id, None
    _check_revision(revision, ref)
    return repo_id, revision


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _offline_env() -> bool:
    return _is_true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


def cache_dir() -> Path:
    """The Hub cache folder: ``ZOO_CACHE``, else huggingface_hub's own rule.

    That rule (``HF_HUB_CACHE``, else ``HUGGINGFACE_HUB_CACHE``, else
    ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
    ``~/.cache/huggingface/hub``) is repeated here so that looking at the cache
    does not import huggingface_hub.
    """

    def expand(p: str) -> str:
        return os.path.expandvars(os.path.expanduser(p))

    env = os.environ
    if env.get("ZOO_CACHE"):
        return Path(expand(env["ZOO_CACHE"]))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(expand(env[var]))
    default_home = os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(expand(env.get("HF_HOME") or default_home)) / "hub"


def _storage(repo_id: str, cache: Path) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The cached snapshot folder of a repo, or None if it is not fully cached. No network.

    A folder is returned when its card is there and every weight file the card
    lists is present; hashes are not checked here (``snapshot`` does that).
    """
    repo_id, ref_revision = parse_ref(repo_id)
    rev = revision or ref_revision or "main"
    _check_revision(rev, f"{repo_id}@{rev}")
    storage = _storage(repo_id, cache_dir())
    commit: str | None = rev if _COMMIT_RE.fullmatch(rev) else None
    if commit is None:
        try:
            commit = (storage / "refs" / rev).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not _COMMIT_RE.fullmatch(commit):
            return None
    folder = storage / "snapshots" / commit
    if (folder / "model_index.json").is_file():
        from zoo.pipelines import is_pipeline_folder, read_pipeline
        from zoo.registry.discovery import get_registry

        if is_pipeline_folder(folder):  # a diffusers repo: complete when its card can be made
            try:
                read_pipeline(folder, get_registry())
            except (CardError, OSError):
                return None
            return folder
    if not (folder / CARD_FILE).is_file():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            card, _ = read_card(folder)
    except CardError:
        return folder  # the caller reads the card again and reports the problem
    if not all((folder / name).is_file() for name in {**card.zoo.files, **card.zoo.assets}):
        return None
    return folder


def snapshot(
    repo_id: str, revision: str | None = None, *, force: bool = False, model: str | None = None
) -> Path:
    """Download (or find in the cache) a zoo model from the Hub and verify its weights.

    Args:
        repo_id: "org/name" (an "hf:" prefix is accepted).
        revision: branch, tag or commit; the default branch if None.
        force: download every file again, replacing the cached copies.
        model: the name the user typed, for messages (default "hf:org/name[@rev]").

    Returns:
        The snapshot folder holding README.md, config.json and the weight files.
        With ``HF_HUB_OFFLINE=1`` only the cache is used.

    Raises:
        HubError: the repo, revision or a file is missing, access is denied, the
            network failed or the download was interrupted (re-running retries).
        IntegrityError: a weight file does not match the card's size or sha256; it
            has been removed from the cache.
        PickleRefusedError: the repo has only pickle weights.
        CardError: the repo has no valid zoo model card.
        ResourceError: the disk filled up.
    """
    repo_id, ref_revision = parse_ref(repo_id)
    revision = revision or ref_revision
    if revision is not None:
        _check_revision(revision, f"{repo_id}@{revision}")
    name = model or f"{HF_PREFIX}{repo_id}" + (f"@{revision}" if revision else "")
    where = f"{repo_id}@{revision or 'main'}"
    cache = cache_dir()
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError as err:  # pragma: no cover - a dependency of zoo
        raise HubError(f"huggingface_hub cannot be imported ({err}); reinstall zoo") from None
    offline = _offline_env() or bool(getattr(constants, "HF_HUB_OFFLINE", False))
    if force and offline:
        raise HubError(
            f"cannot download {name} again while offline mode is on (HF_HUB_OFFLINE=1);"
            " unset HF_HUB_OFFLINE to use --force"
        )

    # 1. the card and config, to learn the commit and which weight files to fetch
    try:
        folder = Path(
            str(
                snapshot_download(
                    repo_id,
                    revision=revision,
                    allow_patterns=[CARD_FILE, CONFIG_FILE, "model_index.json"],
                    cache_dir=str(cache),
                    force_download=force,
                    local_files_only=offline,
                )
            )
        )
    except Exception as err:
        raise _translate(err, name, where, cache, offline) from err
    commit = folder.name
    listed = _repo_files(repo_id, commit, cache)
    if listed is not None and not any(f.endswith(".safetensors") for f in listed):
        pickles = [f for f in listed if f.lower().endswith(PICKLE_SUFFIXES)]
        if pickles:
            raise PickleRefusedError(
                f"no safetensors weights in {where} (only {', '.join(pickles[:3])});"
                " only safetensors is supported (pickle files can run code when loaded)"
            )
        raise HubError(f"no safetensors weights in {where}; is it a zoo model?")
    if (folder / "model_index.json").is_file():
        from zoo.pipelines import is_pipeline_folder

        if is_pipeline_folder(folder):  # a diffusers repo: configs, tokenizer, weights
            return _pipeline_snapshot(repo_id, commit, folder, listed, name, where, force, offline)
    if not (folder / CARD_FILE).is_file():
        raise CardError(
            f"{where} has no {CARD_FILE} model card; it is not a zoo model"
            " (a zoo card has a 'zoo:' section listing the weight files)"
        )
    card, _ = read_card(folder)
    files = {**card.zoo.files, **card.zoo.assets}
    absent = sorted(set(files) - set(listed)) if listed is not None else []
    if absent:
        raise HubError(f"file {absent[0]} is not in {where}; the card may be out of date")

    # 2. exactly the weight files and assets the card lists, pinned to that commit, one at a
    #    time in this thread (snapshot_download's thread pool would make Ctrl-C wait for the
    #    transfer)
    for fname, entry in sorted(files.items()):
        path = _download(repo_id, fname, commit, name, where, force, offline)
        problem = entry_mismatch(path, entry)
        if problem is not None:
            _discard(path, _storage(repo_id, cache))
            raise IntegrityError(
                f"{fname} of {name} does not match its card ({problem}); removed it from the"
                f" cache; run `zoo pull {name}` to download it again"
            )
    return folder


def _pipeline_snapshot(
    repo_id: str,
    commit: str,
    folder: Path,
    listed: list[str] | None,
    name: str,
    where: str,
    force: bool,
    offline: bool,
) -> Path:
    """Finish the snapshot of a diffusers pipeline repo: every component's small files
    (configs, tokenizer vocabulary and merges, shard indexes), then the weight files its
    family's networks need, each checked against the sha256 the Hub announced for it."""
    from huggingface_hub import snapshot_download

    from zoo.pipelines import network_weights
    from zoo.registry.discovery import get_registry

    cache = cache_dir()
    small = ["*/*.json", "*/*.txt"]
    try:
        snapshot_download(
            repo_id,
            revision=commit,
            allow_patterns=small,
            cache_dir=str(cache),
            force_download=force,
            local_files_only=offline,
        )
    except Exception as err:
        raise _translate(err, name, where, cache, offline) from err
    if listed is None:  # no cached listing (an offline pull): what the snapshot holds
        listed = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    for fname in network_weights(folder, get_registry(), listed):
        path = _download(repo_id, fname, commit, name, where, force, offline)
        announced = os.path.basename(os.readlink(path)) if path.is_symlink() else None
        if announced is not None and len(announced) == 64:
            problem = entry_mismatch(path, FileEntry(sha256=announced, size=path.stat().st_size))
            if problem is not None:
                _discard(path, _storage(repo_id, cache))
                raise IntegrityError(
                    f"{fname} of {name} does not match the Hub's sha256 ({problem}); removed it"
                    f" from the cache; run `zoo pull {name}` to download it again"
                )
    return folder


def _download(
    repo_id: str, fname: str, commit: str, name: str, where: str, force: bool, offline: bool
) -> Path:
    """One file of the repo at ``commit`` into the cache, errors translated."""
    from huggingface_hub import errors as hf
    from huggingface_hub import hf_hub_download

    cache = cache_dir()
    try:
        return Path(
            hf_hub_download(
                repo_id,
                fname,
                revision=commit,
                cache_dir=str(cache),
                force_download=force,
                local_files_only=offline,
            )
        )
    except hf.LocalEntryNotFoundError as err:
        if offline:
            raise HubError(
                f"{fname} of {name} is not in the cache and offline mode is on"
                " (HF_HUB_OFFLINE=1); unset HF_HUB_OFFLINE to download it"
            ) from err
        raise _translate(err, name, where, cache, offline) from err
    except hf.EntryNotFoundError as err:
        raise HubError(f"file {fname} is not in {where}; the card may be out of date") from err
    except Exception as err:
        raise _translate(err, name, where, cache, offline) from err


def _repo_files(repo_id: str, commit: str, cache: Path) -> list[str] | None:
    """Every file of the repo at ``commit``, from the tree listing the hub cached; no network."""
    try:
        from huggingface_hub import get_cached_repo_tree
    except ImportError:  # older huggingface_hub: no tree cache
        return None
    try:
        return [f.path for f in get_cached_repo_tree(repo_id, revision=commit, cache_dir=cache)]
    except Exception:  # not cached (offline pull of an old download): skip this check
        return None


def _discard(path: Path, storage: Path) -> None:
    """Remove a bad snapshot file and the blob it links to (only inside the repo's cache)."""
    try:
        if path.is_symlink():
            blob = Path(os.path.realpath(path))
            path.unlink()
            if Path(os.path.realpath(storage)) in blob.parents:
                blob.unlink(missing_ok=True)
        else:
            path.unlink(missing_ok=True)
    except OSError as err:
        raise IntegrityError(
            f"{path} does not match its card and cannot be removed ({err.strerror});"
            " delete it by hand, then run `zoo pull` again"
        ) from None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = next((line.strip() for line in text if line.strip()), "")
    return f"{type(err).__name__}: {first[:160]}" if first else type(err).__name__


def _is_network_error(err: BaseException) -> bool:
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    for cls in type(err).__mro__:
        if cls.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "requests", "urllib3"):
            return True
    return isinstance(err, OSError) and "Consistency check failed" in str(err)


def _translate(err: Exception, name: str, where: str, cache: Path, offline: bool) -> ZooError:
    """One-line ZooError for an exception raised by huggingface_hub (H2-H10)."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hf

    repo_id, _, rev = where.partition("@")
    again = f"run `zoo pull {name}`"
    if isinstance(err, hf.GatedRepoError):
        return HubError(
            f"{repo_id} is gated; request access on its Hub page, log in with"
            f" `hf auth login`, then {again}"
        )
    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(err, hf.RepositoryNotFoundError) or status == 401:
        return HubError(
            f"repo {repo_id} not found on the Hub, or it is private or gated and you have no"
            " access; check the name, or log in with `hf auth login` and request access"
        )
    if isinstance(err, hf.RevisionNotFoundError):
        return HubError(f"revision '{rev}' not found in {repo_id}; check the branch, tag or commit")
    if isinstance(err, getattr(hf, "IncompleteSnapshotError", ())):
        found = re.search(r"\d+ file\(s\) are missing \(([^)]*)\)", str(err))
        missing = f" (missing: {found.group(1)})" if found else ""
        if offline:
            why, fix = (
                "offline mode is on (HF_HUB_OFFLINE=1)",
                "unset HF_HUB_OFFLINE to fetch the rest",
            )
        else:
            why, fix = "the Hub cannot be reached", "try again when it can"
        return HubError(f"the cached copy of {where} is incomplete{missing} and {why}; {fix}")
    if isinstance(err, (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled)):
        if offline or isinstance(err.__cause__, hf.OfflineModeIsEnabled):
            return HubError(
                f"{where} is not in the cache and offline mode is on (HF_HUB_OFFLINE=1);"
                " unset HF_HUB_OFFLINE to download it"
            )
        cause = f" ({_short(err.__cause__)})" if err.__cause__ is not None else ""
        return HubError(
            f"cannot reach the Hub at {constants.ENDPOINT}{cause} and {where} is not in the"
            f" cache; check your connection or HF_ENDPOINT and try again"
        )
    if isinstance(err, hf.EntryNotFoundError):
        return HubError(
            f"a file is missing from {where} ({_short(err)}); the card may be out of date"
        )
    if isinstance(err, hf.HfHubHTTPError) and status is not None:
        if status == 403:
            return HubError(
                f"the Hub refused access to {where} (HTTP 403); check your token's permissions"
            )
        if status == 429:
            return HubError(
                f"the Hub is rate-limiting downloads of {where} (HTTP 429); wait, then {again}"
            )
        return HubError(
            f"the Hub answered HTTP {status} for {where}; it may be down, {again} later"
        )
    if isinstance(err, ValueError) and err.__cause__ is not None and "Force download" in str(err):
        inner = err.__cause__
        if isinstance(inner, Exception):
            return _translate(inner, name, where, cache, offline)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceError(
            f"disk full while downloading {where} into {cache}; free some space or point"
            f" ZOO_CACHE (or HF_HUB_CACHE) at a bigger disk, then {again}"
        )
    if isinstance(err, PermissionError) or (isinstance(err, OSError) and err.errno == errno.EROFS):
        return HubError(
            f"cache dir {cache} is not writable ({_short(err)}); set ZOO_CACHE or"
            " HF_HUB_CACHE to a writable folder"
        )
    if _is_network_error(err):
        return HubError(
            f"download of {where} was interrupted ({_short(err)}); no partial file was kept"
            f" under its final name; {again} to retry"
        )
    return HubError(f"download of {where} failed ({_short(err)}); {again} again, or add --debug")
