"""``python -m workflow_scripts.config.reference``: docs/config.md, the config reference, generated
from the schema (workflow_scripts/schemas/config.schema.yaml plus each registered method's
section), so no default or description is written twice.

    python -m workflow_scripts.config.reference            # rewrite docs/config.md
    python -m workflow_scripts.config.reference --check    # exit 1 when docs/config.md is stale

``tests/test_config.py`` fails when the file is not what this command writes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Iterator

from workflow_scripts.config.validate import SCHEMA_PATH, load_schema
from workflow_scripts.methods import METHODS

REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "config.md"
COMMAND = "python -m workflow_scripts.config.reference"

INTRO = f"""# Config reference

Generated from `workflow_scripts/schemas/config.schema.yaml` and the method modules
(`workflow_scripts/methods/`, one section `generation.<method>` each) by `{COMMAND}`
(`make docs`); edit the schema, not this file. A test fails when this file is stale.

Every setting has one definition: its `default` below. At start-up (`rules/common.smk`) the config is
completed with those defaults once, validated against the schema and cross-checked, so every rule and
stage receives complete settings; a misspelled key, a wrong type or a contradiction (e.g. a
`generation.budget_forcing.n` key that is not one of its budgets) stops the run with a message naming
the key. `config.yaml` names only what has no default (the run, the model, the data).

**Overlays.** `snakemake --configfile my.yaml` merges `my.yaml` over `config.yaml` (Snakemake's merge:
mappings key by key, lists and values replaced; `--config key=value` works the same way), so an
override file names only what it changes. `python -m workflow_scripts.config my.yaml` prints the complete
settings such a run uses (or the error). The smoke profile's `profiles/smoke/experiment.yaml` is such an
overlay. A method runs nothing when its list is empty (`class_conditional: {{prompts: []}}`).
"""


def _resolve(node: dict, schema: dict) -> dict:
    """A ``$ref`` to ``#/definitions/<name>`` replaced by the definition, the node's own keys kept."""
    ref = node.get("$ref")
    if not ref:
        return node
    target = schema["definitions"][ref.rsplit("/", 1)[-1]]
    return {**_resolve(target, schema), **{k: v for k, v in node.items() if k != "$ref"}}


def _type_text(node: dict, schema: dict) -> str:
    node = _resolve(node, schema)
    if "enum" in node:
        return " | ".join(json.dumps(value) for value in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    if "oneOf" in node:
        return " or ".join(_type_text(option, schema) for option in node["oneOf"])
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds and "items" in node:
        return f"list of ({_type_text(node['items'], schema)})"
    bounds = [f"{word} {node[key]}" for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                      ("maximum", "<="), ("exclusiveMaximum", "<")) if key in node]
    return " | ".join(kinds) + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default_text(node: dict) -> str:
    if "default" not in node:
        return "required" if node.get("_required") else "—"
    return f"`{json.dumps(node['default'])}`"


def _rows(node: dict, schema: dict, prefix: str, required: bool) -> Iterator[tuple[str, str, str, str]]:
    node = _resolve(node, schema)
    properties = node.get("properties")
    if properties and node.get("type") in ("object", ["object", "null"]):
        if prefix and node.get("description"):
            yield prefix, "mapping", _default_text(node), _cell(node["description"])
        for key, child in properties.items():
            child_required = key in node.get("required", [])
            yield from _rows(child, schema, f"{prefix}.{key}" if prefix else key, child_required)
        return
    shown = {**node, "_required": required}
    objects = [_resolve(option, schema) for option in node.get("oneOf", [])]
    objects = [option for option in objects if option.get("properties")]
    if objects:  # e.g. an eval set or null: the row, then the mapping's keys
        yield prefix, _cell(_type_text(node, schema)), _default_text(shown), _cell(node.get("description", ""))
        yield from ((key, kind, default, meaning) for key, kind, default, meaning
                    in _rows({**objects[0], "type": "object"}, schema, prefix, required) if key != prefix)
        return
    yield prefix, _cell(_type_text(node, schema)), _default_text(shown), _cell(node.get("description", ""))


def _row(key: str, kind: str, default: str, meaning: str) -> str:
    return f"| `{key}` | {kind} | {default} | {meaning} |"


def _method_description(name: str) -> str:
    doc = sys.modules[type(METHODS[name]).__module__].__doc__ or ""
    text = " ".join(doc.strip().split("\n\n")[0].split())
    return re.sub(r":\w+:`([^`]+)`", r"`\1`", text).replace("``", "`")  # reST roles and literals as markdown


def render_reference() -> str:
    """docs/config.md's text: one table per top-level section, every leaf key with its type,
    default and description."""
    schema = load_schema()
    generation = schema["properties"]["generation"]["properties"]
    for name in METHODS:  # a method section's meaning: its module's first paragraph
        generation[name].setdefault("description", _method_description(name))
    parts = [INTRO]
    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    required = schema.get("required", [])
    scalars = [key for key, node in schema["properties"].items() if "properties" not in _resolve(node, schema)]
    parts.append("## Top level\n")
    parts.append("\n".join(header + [_row(*row) for key in scalars
                                      for row in _rows(schema["properties"][key], schema, key, key in required)]) + "\n")
    for section, node in schema["properties"].items():
        if section in scalars:
            continue
        node = _resolve(node, schema)
        parts.append(f"## `{section}`\n")
        if node.get("description"):
            parts.append(_cell(node["description"]) + "\n")
        if section == "generation":
            methods = ", ".join(f"`{name}`" for name in METHODS)
            parts.append(f"Method sections (one per registered method: {methods}) are defined by their modules "
                         "in `workflow_scripts/methods/` ([adding a method](adding-a-method.md)).\n")
        # the section's own row only when its default says something ({} is "every key's default")
        rows = [row for row in _rows(node, schema, section, section in required)
                if row[0] != section or node.get("default", {}) != {}]
        parts.append("\n".join(header + [_row(*row) for row in rows]) + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(REFERENCE_PATH), help="where to write (default: docs/config.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the schema's text")
    args = parser.parse_args(argv)
    text = render_reference()
    output = Path(args.output)
    if args.check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            print(f"{output} is stale: run `{COMMAND}` (the schema is {SCHEMA_PATH})", file=sys.stderr)
            return 1
        return 0
    output.write_text(text, encoding="utf-8")
    print(f"config reference -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
