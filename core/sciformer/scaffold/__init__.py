"""`sciformer new-plugin NAME`: writes a complete, installable plugin distribution from templates."""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from sciformer.errors import ConfigError, InputFileError

TEMPLATE = Path(__file__).parent / "template"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def new_plugin(name: str, parent: Path) -> Path:
    """Write `parent/NAME/` (distribution `sciformer-NAME`, package `sciformer_NAME`, domain NAME)."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ConfigError(f"plugin name {name!r} must be lower-case letters, digits and underscores, starting with a letter")
    target = parent / name
    if target.exists():
        raise InputFileError(f"{target} exists; choose another name or folder")
    values = {"name": name, "package": f"sciformer_{name}", "distribution": f"sciformer-{name.replace('_', '-')}", "title": name.replace("_", " ").title(), "class_name": name.title().replace("_", "")}
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).with_suffix("")
        destination = target / str(relative).replace("package", values["package"], 1)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(Template(source.read_text()).substitute(values))
    return target
