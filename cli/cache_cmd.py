"""`signalwise cache info|clear`: the cache of parsed, validated policy files (engine/policy/cache.py)."""

from __future__ import annotations

import json

import click

from .output import echo


@click.group("cache")
def cache_group() -> None:
    """Show or empty the cache of parsed, validated policy files."""


@cache_group.command("info")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: for the terminal; json: for tools")
def cache_info(fmt: str) -> None:
    """Where the cache is, whether it is used, and how many entries it holds."""
    from signalwise.engine.policy import cache as policy_cache

    data = policy_cache.info()
    if fmt == "json":
        echo(json.dumps(data, indent=2, sort_keys=True))
        return
    state = "on" if data["enabled"] else f"off ({policy_cache.NO_CACHE_ENV} is set)"
    echo(f"folder: {data['folder']}\ncache: {state}\nentries: {data['entries']} ({data['bytes']:,} bytes)\n"
         f"key: {data['key']} (schemas, loader and signalwise version)")


@cache_group.command("clear")
def cache_clear() -> None:
    """Remove every cached entry (the next run parses and validates the policies again)."""
    from signalwise.engine.policy import cache as policy_cache

    removed = policy_cache.clear()
    echo(f"removed {removed} cached {'entry' if removed == 1 else 'entries'} from {policy_cache.cache_root()}")
