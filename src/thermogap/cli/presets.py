"""``thermogap presets``: the presets that ``thermogap run`` knows, with their descriptions."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from thermogap.cli.common import echo_json, json_option
from thermogap.configs import BUILTIN_CONFIG_DIR, named_config_paths
from thermogap.flows.presets import load_preset


@click.command("presets")
@json_option
def command(as_json: bool) -> None:
    """List the presets (built-in ones and those of ./configs or $THERMOGAP_CONFIG_DIR)."""
    rows: list[dict[str, Any]] = []
    for name, path in named_config_paths("presets").items():
        preset = load_preset(str(path))
        builtin = path.parent.parent == BUILTIN_CONFIG_DIR
        rows.append(
            {
                "name": name,
                "flow": preset.flow,
                "levels": preset.levels,
                "description": " ".join(preset.description.split()),
                "source": "built-in" if builtin else str(path),
            }
        )
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        origin = "" if row["source"] == "built-in" else f"  ({row['source']})"
        click.echo(f"{row['name']}  [flow: {row['flow']}]{origin}")
        for line in textwrap.wrap(str(row["description"]) or "(no description)", width=88):
            click.echo(f"    {line}")
