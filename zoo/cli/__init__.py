"""The ``zoo`` command line. Commands live one per module and are imported on use.

Errors meant for the user (ZooError) print one line on stderr and exit with
their code (2 for bad input); ``--debug`` (before or after the command) or
ZOO_DEBUG=1 shows the traceback. Any other exception is an internal error:
one line naming the plugin whose code raised it, when one did.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from zoo import __version__

# name -> "module:attribute"; imported only when the command runs or --help lists it
COMMANDS = {
    "list": "zoo.cli.listing:list_cmd",
    "info": "zoo.cli.listing:info",
    "plugins": "zoo.cli.listing:plugins",
    "datasets": "zoo.cli.listing:datasets",
    "sample": "zoo.cli.sample:sample",
    "pull": "zoo.cli.pull:pull",
    "train": "zoo.cli.train:train_cmd",
    "bench": "zoo.cli.train:bench",
    "eval": "zoo.cli.evaluate:eval_cmd",
    "leaderboard": "zoo.cli.evaluate:leaderboard",
    "reference-eval": "zoo.cli.reference:reference_eval",
    "reconstruct": "zoo.cli.reconstruct:reconstruct_cmd",
    "interpolate": "zoo.cli.reconstruct:interpolate_cmd",
    "serve": "zoo.cli.serve:serve",
    "convert": "zoo.cli.convert:convert",
}

SHORT_HELP = {
    "list": "List models: id, family, process, capabilities, source, plugin.",
    "info": "Show a model's card.",
    "plugins": "List plugins, their status and what they register.",
    "datasets": "List datasets (offline) for zoo train and zoo eval.",
    "sample": "Draw images from a model into a PNG grid or a folder.",
    "pull": "Download a model from the Hugging Face Hub into the cache.",
    "train": "Train a family on a dataset into a model folder.",
    "bench": "Time sampling from a model (and record it in its card).",
    "eval": "Score a model (FID, IS, ...) beside its reference rows.",
    "leaderboard": "Every model x metric from the cards' model-index.",
    "reference-eval": "Measure a reference network (classifier, clip) on held-out data; print JSON.",
    "reconstruct": "Encode an image and decode it again (autoencoders), optionally noised.",
    "interpolate": "Decode a straight line between two latents (autoencoders).",
    "serve": "A local web page to browse the zoo, draw from any model and compare.",
    "convert": "Turn a checkpoint of another layout into a model folder (SD single files).",
}


DEBUG_HELP = "Show tracebacks for errors (or set ZOO_DEBUG=1)."


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        os.environ["ZOO_DEBUG"] = "1"


def _with_debug(command: click.Command | None) -> click.Command | None:
    """Give a command its own ``--debug``, so ``zoo sample x --debug`` works too."""
    if command is None or any("--debug" in p.opts for p in command.params):
        return command
    command.params.append(
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_debug,
            help=DEBUG_HELP,
        )
    )
    return command


class LazyGroup(click.Group):
    """A group whose built-in commands import on use and whose plugins may add more."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from zoo.registry.discovery import get_registry

        get_registry().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attr = COMMANDS[name].partition(":")
            return _with_debug(getattr(importlib.import_module(module), attr))
        self._add_plugin_commands()
        return _with_debug(self.commands.get(name))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # built-in commands are described without importing their modules
        self._add_plugin_commands()
        rows = [(name, SHORT_HELP[name]) for name in sorted(COMMANDS)]
        rows += [(n, c.get_short_help_str(60)) for n, c in sorted(self.commands.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            ctx.fail(f"no such command '{name}'{hint} (zoo --help)")
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def cli(debug: bool) -> None:
    """zoo: generative image models behind one sampling command.

    \b
    Examples:
      zoo list                                   what models there are
      zoo sample dcgan-digits -n 16 -o grid.png  draw a grid of 16 digits
      zoo sample cgan-digits --label 7 -n 8      draw eight sevens
      zoo info dcgan-digits                      read a model's card
      zoo pull hf:org/name@rev                   fetch a model from the Hub

    Models come from the zoo's own cards, from installed plugins, from a local
    folder, or from the Hugging Face Hub as hf:org/name[@revision].

    \b
    Environment: ZOO_DEVICE (cpu, cuda, mps), ZOO_DISABLE_PLUGINS=a,b,
    ZOO_LOAD_PLUGINS=a,b (allowlist), ZOO_DEBUG=1, HF_HUB_OFFLINE=1.
    """
    if debug:
        os.environ["ZOO_DEBUG"] = "1"


def _say(message: str) -> None:
    """Write one line to stderr, never failing on odd characters."""
    data = (message.rstrip() + "\n").encode("utf-8", "backslashreplace")
    sys.stderr.buffer.write(data)
    sys.stderr.flush()


def _warn_in_one_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Show a warning as the CLI's other notices: ``zoo: warning: <message>``, one line,
    without the source line Python's default format adds."""
    _say("zoo: warning: " + " ".join(str(message).split()))


def _plugin_at_fault(err: BaseException) -> Any:
    """The plugin whose code raised ``err``: the innermost frame in a plugin's package.

    The root cause is searched first, then the exceptions that wrap it. Only an
    already discovered registry is asked; an error path never loads plugins.
    """
    discovery = sys.modules.get("zoo.registry.discovery")
    reg = discovery.current_registry() if discovery is not None else None
    if reg is None:
        return None
    chain: list[BaseException] = []
    cause: BaseException | None = err
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for exc in reversed(chain):
        found = None
        tb = exc.__traceback__
        while tb is not None:
            found = reg.plugin_of(tb.tb_frame.f_globals.get("__name__", "")) or found
            tb = tb.tb_next
        if found is not None:
            return found
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``zoo`` script."""
    from zoo.registry.errors import ZooError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("ZOO_DEBUG") == "1" or "--debug" in args
    if not debug:  # --debug keeps Python's format, which names the code that warned
        import warnings

        warnings.showwarning = _warn_in_one_line
    try:
        cli.main(args=args, prog_name="zoo", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        _say("zoo: aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        _say("zoo: interrupted")
        sys.exit(130)
    except ZooError as e:
        if debug or os.environ.get("ZOO_DEBUG") == "1":
            raise
        _say(f"zoo: {e}")
        sys.exit(e.exit_code)
    except Exception as e:  # an unexpected failure: still one line unless --debug
        if debug or os.environ.get("ZOO_DEBUG") == "1":
            raise
        plugin = _plugin_at_fault(e)
        where = f" in plugin '{plugin.name}' ({plugin.origin})" if plugin is not None else ""
        what = " ".join(f"{type(e).__name__}: {e}".split())[:500]
        _say(f"zoo: internal error{where}: {what} (rerun with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
