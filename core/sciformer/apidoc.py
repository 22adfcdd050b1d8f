"""The API reference of the types a plugin touches, generated from their source so that it cannot drift from them."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import io
import tokenize
from collections.abc import Callable
from typing import Any, ForwardRef

from sciformer import config

HEADER = """# API reference

Generated from the docstrings and source of the types a plugin touches by `sciformer hooks --api`; do not
edit by hand. [writing-a-plugin.md](writing-a-plugin.md) says how they fit together; [hooks.md](hooks.md)
lists the hooks and the `Domain` methods.
"""

#: (module, class names) documented after `ModelConfig`, in this order.
TYPES = (
    ("sciformer.data.batch", ("TokenBatch",)),
    ("sciformer.engine.context", ("Embedded", "LayerContext", "Mixed")),
    ("sciformer.engine.bias", ("AttentionTerms", "AttentionBias")),
    ("sciformer.engine.masking", ("AttentionInputs",)),
    ("sciformer.engine.embedding", ("TokenEmbedder",)),
    ("sciformer.engine.heads", ("Head",)),
    ("sciformer.engine.parts", ("BlockParts", "MixerParts")),
    ("sciformer.domain", ("Tokenizer", "VocabularyTokenizer", "RecordReader")),
    ("sciformer.records", ("Record", "ExampleRecords")),
)


def api_reference() -> str:
    """Markdown with `ModelConfig`'s fields as a table, then each type's signature, docstring and public members."""
    parts = [HEADER, model_config_reference()]
    for module_name, names in TYPES:
        module = importlib.import_module(module_name)
        parts += [class_reference(module_name, getattr(module, name)) for name in names]
    return "\n".join(parts)


def model_config_reference() -> str:
    """`ModelConfig`'s docstring, a table of its fields (name, type, default and the comment on the field's
    line of config.py) and its public members."""
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{name}` | `{kind}` | {f'`{default}`' if default else 'required'} | {meaning} |" for name, kind, default, meaning in config_fields()]
    table = "\n".join(rows)
    members = _members(config.ModelConfig)
    return "\n".join([f"## `sciformer.config.ModelConfig`\n\n{_doc(config.ModelConfig)}\n\n{table}\n", *members])


def config_fields() -> list[tuple[str, str, str, str]]:
    """(name, type, default or "", line comment or "") of each `ModelConfig` field, parsed from config.py."""
    source = inspect.getsource(config)
    comments = {token.start[0]: token.string.lstrip("# ").strip() for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "ModelConfig")
    fields = []
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            default = "" if statement.value is None else _default(ast.get_source_segment(source, statement.value) or "")
            fields.append((statement.target.id, ast.unparse(statement.annotation), default, comments.get(statement.lineno, "")))
    return fields


def class_reference(module_name: str, cls: type) -> str:
    """A class's heading (with its bases), constructor signature, docstring and public members."""
    bases = ", ".join(base.__name__ for base in getattr(cls, "__orig_bases__", cls.__bases__) if base is not object)
    heading = f"## `{module_name}.{cls.__name__}`" + (f" ({bases})" if bases else "")
    constructor = ""
    if "__init__" in cls.__dict__ or "__new__" in cls.__dict__:
        constructor = f"```text\n{cls.__name__}{_signature(cls)}\n```\n\n"
    fields = {field.name for field in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set(getattr(cls, "_fields", ()))
    return "\n".join([f"{heading}\n\n{constructor}{_doc(cls)}\n", *_attributes(cls, fields), *_members(cls)])


def _attributes(cls: type, fields: set[str]) -> list[str]:
    """Class-level annotations that are not constructor fields (what a subclass sets), as one list."""
    annotations = {name: kind for name, kind in inspect.get_annotations(cls).items() if name not in fields and not name.startswith("_")}
    if not annotations:
        return []
    return ["Attributes: " + ", ".join(f"`{name}: {kind}`" for name, kind in annotations.items()) + ".\n"]


def _members(cls: type) -> list[str]:
    """Each public method and property defined by `cls` itself: its signature and docstring."""
    entries = []
    for name, member in cls.__dict__.items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            entries.append(f"### `{cls.__name__}.{name}` (property)\n\n{_doc(member)}\n")
        elif isinstance(member, (classmethod, staticmethod)) or inspect.isfunction(member):
            function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            entries.append(f"### `{cls.__name__}.{name}{_signature(function)}`\n\n{_doc(function)}\n")
    return entries


def _signature(target: Callable[..., Any]) -> str:
    """`(a: T = default, ...) -> R` without `self` / `cls`, annotations as written in the source."""
    signature = inspect.signature(target)
    factories = {f.name: f.default_factory for f in dataclasses.fields(target) if f.default_factory is not dataclasses.MISSING} if dataclasses.is_dataclass(target) else {}
    parameters = [p.replace(default=factories[p.name]()) if p.name in factories else p for p in signature.parameters.values() if p.name not in ("self", "cls")]
    shown = ", ".join(_parameter(p) for p in parameters)
    returned = signature.return_annotation
    arrow = "" if returned is inspect.Signature.empty or inspect.isclass(target) else f" -> {_annotation(returned)}"
    return f"({shown}){arrow}"


def _parameter(parameter: inspect.Parameter) -> str:
    prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
    text = prefix + parameter.name
    if parameter.annotation is not inspect.Parameter.empty:
        text += f": {_annotation(parameter.annotation)}"
    if parameter.default is not inspect.Parameter.empty:
        text += f" = {parameter.default!r}"
    return text


def _annotation(annotation: Any) -> str:
    if isinstance(annotation, ForwardRef):  # NamedTuple fields under `from __future__ import annotations`
        return annotation.__forward_arg__
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _default(text: str) -> str:
    """A field's default as the reader would write it: `field(default_factory=dict)` as `{}`."""
    return {"field(default_factory=dict)": "{}", "field(default_factory=tuple)": "()"}.get(text, text)


def _doc(target: Any) -> str:
    return inspect.cleandoc(target.__doc__ or "(no docstring)")
