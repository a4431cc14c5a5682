"""``zoo pull``: fetch a model from the Hugging Face Hub into the cache and verify it."""

from __future__ import annotations

import click


@click.command("pull")
@click.argument("model")
@click.option(
    "--force", is_flag=True, help="Download every file again, replacing the cached copies."
)
def pull(model: str, force: bool) -> None:
    """Download MODEL from the Hugging Face Hub into the cache and verify it.

    MODEL is hf:org/name[@revision] or the id of a registered model that lives
    on the Hub. Only README.md, config.json and the *.safetensors files the
    card lists are fetched (never pickle files), and each weight file's size
    and sha256 are checked against the card. Prints the local folder.

    \b
    Examples:
      zoo pull hf:org/name                 the default branch
      zoo pull hf:org/name@1a2b3c...       a pinned commit
      zoo pull dcgan-faces --force         download a registered model again

    \b
    The cache is HF_HUB_CACHE (default ~/.cache/huggingface/hub); ZOO_CACHE
    overrides it. With HF_HUB_OFFLINE=1 only the cache is used. An interrupted
    pull leaves nothing half-written: run it again to retry.
    """
    from zoo import hub

    if model.startswith(hub.HF_PREFIX):
        repo_id, revision = hub.parse_ref(model)
    else:
        from zoo.registry.discovery import get_registry

        spec = get_registry().model(model)
        if spec.repo is None:
            if spec.plugin == "cards":
                click.echo(f"model {model} is shipped with zoo; nothing to pull")
            else:
                click.echo(
                    f"model {model} is a local folder of plugin '{spec.plugin}'; nothing to pull"
                )
            return
        repo_id, revision = hub.parse_ref(spec.repo)
    folder = hub.snapshot(repo_id, revision, force=force, model=model)
    click.echo(str(folder))
