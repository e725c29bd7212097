"""The configuration, described: the JSON Schema of a workflow file, and each step's keys.

`workflow_schema()` is what editors and form builders read (draft 2020-12): the workflow's own
keys, and `source`, `processors` and `sinks` as `oneOf` branches chosen by `type`, one per
installed step, each with its config model's schema as pydantic writes it. Two things are added
to what pydantic writes, both in `_Generator`:

- a value may be a secret reference (`${env:NAME}`, `${keyring:service/user}`) wherever the
  config holds one, because references are resolved before the models see the values: every
  scalar that a plain string would not satisfy (a number, a flag, a URL, a pattern) also
  accepts a text holding a reference, and a credential key (`password`, `token`, ...) accepts
  a reference only, as `syncer run` does;
- a field whose value is a secret (`syncer.secrets`: declared so by its model, or named like a
  credential) is `writeOnly` with `format: password`, so a form never echoes it.

`config_keys` and `workflow_keys` flatten the same schemas into rows for people (`syncer
connectors NAME`, the docs' tables): a dotted key per leaf and per object, `[]` for the items
of a list and `*` for the values of a mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import structlog
import yaml
from pydantic import BaseModel
from pydantic.config import JsonDict
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from syncer import DISTRIBUTION, plugins
from syncer.errors import ConfigError
from syncer.plugins import StepKind
from syncer.secrets import CREDENTIAL_KEYS, declared_secret, is_secret_name

__all__ = [
    "STEP_KINDS",
    "ConfigKey",
    "StepKind",
    "also_accepts",
    "config_keys",
    "installed_steps",
    "step_model",
    "step_schema",
    "workflow_keys",
    "workflow_schema",
]

log = structlog.get_logger("syncer.schema")

STEP_KINDS: tuple[StepKind, ...] = ("sources", "processors", "sinks")
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# A text holding a reference (`Bearer ${env:TOKEN}`, `postgresql://u:${env:PW}@h/db`), and a
# text that is exactly one (what a credential key takes).
_HOLDS_REFERENCE = r"\$\{(env|keyring):[^}]+\}"
# Written out where used, not as `$defs`: pydantic's generator resolves every `$ref` it meets.
_REFERENCE: JsonSchemaValue = {"type": "string", "pattern": _HOLDS_REFERENCE}
_SECRET_REFERENCE: JsonSchemaValue = {
    "type": "string",
    "pattern": rf"^{_HOLDS_REFERENCE}$",
    "examples": ["${env:PASSWORD}", "${keyring:syncer/admin}"],
}
# A string schema with one of these is not met by every text, so not by a reference either.
_STRING_CONSTRAINTS = ("pattern", "minLength", "maxLength", "format")


@dataclass(frozen=True)
class ConfigKey:
    """One key of a step's config (or of the workflow file), as people read it."""

    name: str  # dotted path inside the step's config: "include.tables", "auth.password"
    type: str  # for people: "string", "integer", "list of strings", "skip | delete"
    default: str | None  # rendered default as it would be written in YAML; None when required
    required: bool
    description: str
    secret: bool


def also_accepts(*shapes: JsonDict) -> Callable[[JsonDict], None]:
    """A field's `json_schema_extra` for a value its validator turns into the declared type
    (a `mode="before"` validator): `true` for a block with its defaults, one text for a list."""

    def widen(field: JsonDict) -> None:
        kept = ("title", "description", "default", "examples", "writeOnly")
        own = {k: field.pop(k) for k in list(field) if k not in kept}
        branches = own.pop("anyOf", None)
        field["anyOf"] = [*(branches if isinstance(branches, list) else [own]), *shapes]

    return widen


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema, with references allowed and secrets marked (module docstring)."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return _or_reference(super().int_schema(schema))

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        return _or_reference(super().float_schema(schema))

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        return _or_reference(super().decimal_schema(schema))

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        return _or_reference(super().bool_schema(schema))

    def url_schema(self, schema: core_schema.UrlSchema) -> JsonSchemaValue:
        return _or_reference(super().url_schema(schema))

    def timedelta_schema(self, schema: core_schema.TimedeltaSchema) -> JsonSchemaValue:
        return _or_reference(super().timedelta_schema(schema))

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        value = super().str_schema(schema)
        constrained = any(key in value for key in _STRING_CONSTRAINTS)
        return _or_reference(value) if constrained else value

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        value = super().literal_schema(schema)
        # A single value (`const`) picks a union's branch: it stays as it is.
        return _or_reference(value) if "enum" in value else value

    def enum_schema(self, schema: core_schema.EnumSchema) -> JsonSchemaValue:
        return _or_reference(super().enum_schema(schema))

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        # A `default_factory`'s value is a default people should see too (`[]`, `{}`, a list).
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return super().get_default_value(schema)

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        value = super().model_schema(schema)
        target = self.resolve_ref_schema(value)
        cls = schema["cls"]
        _unwrap(target)
        for name, field in target.get("properties", {}).items():
            _unwrap(field)
            if _is_secret_field(cls, name, field):
                target["properties"][name] = _secret(name, field)
        return value


def _unwrap(value: JsonSchemaValue) -> None:
    """A description as prose: a docstring's lines joined, its paragraphs kept."""
    text = value.get("description")
    if isinstance(text, str):
        paragraphs = (" ".join(p.split()) for p in text.split("\n\n"))
        value["description"] = "\n\n".join(p for p in paragraphs if p)


def _or_reference(value: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [value, _REFERENCE]}


def _is_secret_field(cls: type[BaseModel], name: str, field: JsonSchemaValue) -> bool:
    declared = declared_secret(cls, (name,))
    if declared is not None:
        return declared
    # By its name only where the value is a text: `secrets:` of the redact processor is not one.
    return is_secret_name(name) and not _holds_structure(field)


def _holds_structure(field: JsonSchemaValue) -> bool:
    branches = [field, *field.get("anyOf", []), *field.get("oneOf", [])]
    return any("$ref" in b or b.get("type") in ("object", "array") for b in branches)


def _secret(name: str, field: JsonSchemaValue) -> JsonSchemaValue:
    marked = {**field, "writeOnly": True, "format": "password"}
    if name not in CREDENTIAL_KEYS:
        return marked
    nullable = any(b.get("type") == "null" for b in field.get("anyOf", []))
    kept = {k: v for k, v in marked.items() if k not in ("anyOf", "type", "minLength", "pattern")}
    if nullable:
        return {**kept, "anyOf": [_SECRET_REFERENCE, {"type": "null"}]}
    return {**_SECRET_REFERENCE, **kept}  # the field's own examples, if it gives some


# --- steps ------------------------------------------------------------------------------------


def installed_steps(kind: StepKind, *, builtin: bool = False) -> list[EntryPoint]:
    """The entry points of a kind, sorted by name; `builtin`: only syncer's own."""
    found = entry_points(group=plugins.STEPS[kind].group)
    chosen = [ep for ep in found if not builtin or (ep.dist and ep.dist.name == DISTRIBUTION)]
    return sorted(chosen, key=lambda ep: ep.name)


def step_model(kind: StepKind, type_name: str) -> type[BaseModel]:
    """The config model of an installed step (or a `module:Class`); a ConfigError otherwise."""
    return _step(kind, type_name)[1]


def _step(kind: StepKind, type_name: str) -> tuple[type, type[BaseModel]]:
    cls = plugins.load(kind, type_name, object)
    model = getattr(cls, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(f"{kind[:-1]} {type_name} declares no config_model; give it one")
    return cls, model


def step_schema(kind: StepKind, type_name: str) -> dict[str, Any]:
    """The JSON Schema of one step's `config:`."""
    model = step_model(kind, type_name)
    value = model.model_json_schema(schema_generator=_Generator)
    return {"$schema": DRAFT, **value}


def workflow_schema(*, builtin: bool = False) -> dict[str, Any]:
    """The JSON Schema of a workflow file, with a branch for every installed step (`builtin`:
    syncer's own only, as the published file has them). A step whose plug-in cannot be loaded
    (an extra not installed) has no branch."""
    from syncer.config import SinkSpec, StepSpec, WorkflowConfig

    steps = {kind: _loadable(kind, builtin) for kind in STEP_KINDS}
    configs = [model for found in steps.values() for _, model in found.values()]
    models: list[type[BaseModel]] = [WorkflowConfig, StepSpec, SinkSpec, *configs]
    refs, top = models_json_schema(
        [(m, "validation") for m in dict.fromkeys(models)], schema_generator=_Generator
    )
    defs: dict[str, Any] = top["$defs"]

    def branches(kind: StepKind, spec: type[BaseModel]) -> dict[str, Any]:
        common = defs[_name(refs[(spec, "validation")])]
        chosen = [
            _branch(kind, name, common, refs[(model, "validation")], step)
            for name, (step, model) in steps[kind].items()
        ]
        return {"oneOf": [*chosen, _custom_branch(kind, common)]}

    workflow = defs.pop(_name(refs[(WorkflowConfig, "validation")]))
    properties = workflow["properties"]
    properties["source"] = {**_described(properties["source"]), **branches("sources", StepSpec)}
    listed: list[tuple[StepKind, type[BaseModel]]] = [
        ("processors", StepSpec),
        ("sinks", SinkSpec),
    ]
    for kind, spec in listed:
        properties[kind] = {**_described(properties[kind]), "type": "array"}
        properties[kind]["items"] = branches(kind, spec)
    for unused in (StepSpec, SinkSpec):
        defs.pop(unused.__name__, None)
    return {
        "$schema": DRAFT,
        "title": "syncer workflow",
        **workflow,
        "$defs": dict(sorted(defs.items())),
    }


def _loadable(kind: StepKind, builtin: bool) -> dict[str, tuple[type, type[BaseModel]]]:
    found: dict[str, tuple[type, type[BaseModel]]] = {}
    for entry in installed_steps(kind, builtin=builtin):
        try:
            found[entry.name] = _step(kind, entry.name)
        except ConfigError as exc:  # an extra not installed: the others still have a schema
            log.warning("a step is left out of the schema", step=entry.name, error=str(exc))
    return found


def _name(ref: JsonSchemaValue) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def _described(field: JsonSchemaValue) -> dict[str, Any]:
    return {k: field[k] for k in ("title", "description", "default") if k in field}


def _branch(
    kind: StepKind,
    name: str,
    common: JsonSchemaValue,
    config: JsonSchemaValue,
    step: type,
) -> dict[str, Any]:
    """One step type: `type` is its name, `config` its model's schema."""
    properties = dict(common["properties"])
    properties["type"] = {"const": name}
    properties["config"] = {**config, "description": f"The {name} {kind[:-1]}'s settings."}
    model: type[BaseModel] = step.config_model  # type: ignore[attr-defined]
    needs_config = any(f.is_required() for f in model.model_fields.values())
    return {
        "title": f"{name} {kind[:-1]}",
        "description": _first_line(step.__doc__) or _first_line(model.__doc__) or name,
        "type": "object",
        "properties": properties,
        "required": ["type", "config"] if needs_config else ["type"],
        "additionalProperties": False,
    }


def _custom_branch(kind: StepKind, common: JsonSchemaValue) -> dict[str, Any]:
    """A step of the user's own, named `module:Class`: its config is its own affair."""
    properties = dict(common["properties"])
    properties["type"] = {
        "type": "string",
        "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        "description": f"A {kind[:-1]} class of your own, as module:Class.",
    }
    properties["config"] = {"type": "object"}
    return {
        "title": f"custom {kind[:-1]}",
        "type": "object",
        "properties": properties,
        "required": ["type"],
        "additionalProperties": False,
    }


def _first_line(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


# --- keys for people ----------------------------------------------------------------------------


def config_keys(kind: StepKind, type_name: str) -> list[ConfigKey]:
    """Every key of a step's config: name, type, default, description, whether it is secret."""
    return _Keys(step_schema(kind, type_name)).rows()


def workflow_keys() -> list[ConfigKey]:
    """The workflow file's own keys (a step's `config:` is one key here; `config_keys` lists
    what it holds)."""
    from syncer.config import WorkflowConfig

    return _Keys(WorkflowConfig.model_json_schema(schema_generator=_Generator)).rows()


class _Keys:
    """Flattens a JSON Schema (as `_Generator` writes it) into `ConfigKey` rows."""

    def __init__(self, root: JsonSchemaValue) -> None:
        self.defs: dict[str, JsonSchemaValue] = root.get("$defs", {})
        self.root = root
        self.found: dict[str, ConfigKey] = {}

    def rows(self) -> list[ConfigKey]:
        self._object(self.root, "")
        return list(self.found.values())

    def _object(self, value: JsonSchemaValue, prefix: str) -> None:
        required = set(value.get("required", []))
        for name, field in value.get("properties", {}).items():
            self._key(f"{prefix}{name}", field, name in required)

    def _key(self, name: str, field: JsonSchemaValue, required: bool) -> None:
        shapes = self._shapes(field)
        default = None if required else _yaml(field.get("default"), self._is_default_object(field))
        kinds = [self._type(s) for s in shapes]
        description = self._description(field)
        picks = [str(s["const"]) for s in shapes if "const" in s]
        if picks:  # what picks a union's branch: each value says what it stands for
            description = f"{picks[0]}: {description}"
        seen = self.found.get(name)
        if seen is None:
            self.found[name] = ConfigKey(
                name=name,
                type=" or ".join(dict.fromkeys(kinds)),
                default=default,
                required=required,
                description=description,
                secret=bool(field.get("writeOnly")),
            )
        elif picks:  # the same key in another branch of a union: `type`, `provider`
            merged = " | ".join(dict.fromkeys([*seen.type.split(" | "), *kinds]))
            self.found[name] = replace(
                seen, type=merged, description=f"{seen.description} {description}"
            )
        for shape in shapes:
            if "properties" in shape:
                self._object(shape, f"{name}.")
            elif isinstance(shape.get("items"), dict):
                for item in self._shapes(shape["items"]):
                    if "properties" in item:
                        self._object(item, f"{name}[].")
            elif isinstance(shape.get("additionalProperties"), dict):
                for item in self._shapes(shape["additionalProperties"]):
                    if "properties" in item:
                        self._object(item, f"{name}.*.")

    def _resolve(self, value: JsonSchemaValue) -> JsonSchemaValue:
        while "$ref" in value:
            value = {**self.defs[_name(value)], **{k: v for k, v in value.items() if k != "$ref"}}
        return value

    def _shapes(self, field: JsonSchemaValue) -> list[JsonSchemaValue]:
        """What a value may be, references and null left out: one shape, or a union's."""
        value = self._resolve(field)
        if value.get("pattern") == _REFERENCE["pattern"]:  # beside the value's own type
            return []
        if value.get("pattern") == _SECRET_REFERENCE["pattern"]:  # a credential's only shape
            return [{"type": "string"}]
        union = value.get("anyOf") or value.get("oneOf")
        if union is None:
            return [] if value.get("type") == "null" else [value]
        return [shape for branch in union for shape in self._shapes(branch)]

    def _type(self, shape: JsonSchemaValue) -> str:
        if "const" in shape:
            return repr(shape["const"]) if not isinstance(shape["const"], str) else shape["const"]
        if "enum" in shape:
            return " | ".join(str(v) for v in shape["enum"])
        kind = shape.get("type")
        if kind == "array":
            items = self._shapes(shape["items"]) if isinstance(shape.get("items"), dict) else []
            listed = " or ".join(dict.fromkeys(_plural(self._type(i)) for i in items))
            return f"list of {listed}" if listed else "list"
        if kind == "object" and isinstance(shape.get("additionalProperties"), dict):
            values = self._shapes(shape["additionalProperties"])
            inner = " or ".join(dict.fromkeys(_plural(self._type(v)) for v in values))
            return f"mapping of names to {inner}" if inner else "mapping"
        if kind == "object" or "properties" in shape:
            return "mapping" if "properties" not in shape else "object"
        if kind == "string" and shape.get("format") in ("uri", "path"):
            return "URL" if shape["format"] == "uri" else "path"
        return str(kind or "any")

    def _description(self, field: JsonSchemaValue) -> str:
        """The field's own, else what its model says of itself (`include: NamePatterns`)."""
        said = [field.get("description"), *(s.get("description") for s in self._shapes(field))]
        return " ".join(str(next(filter(None, said), "")).split())

    def _is_default_object(self, field: JsonSchemaValue) -> bool:
        """Whether the default is what `{}` gives: every key of the object at its default."""
        default = field.get("default")
        shapes = [s for s in self._shapes(field) if "properties" in s]
        if not isinstance(default, dict) or len(shapes) != 1:
            return False
        own = {k: p.get("default") for k, p in shapes[0]["properties"].items() if "default" in p}
        return default == own


def _plural(kind: str) -> str:
    if kind in ("string", "integer", "number", "boolean", "object", "mapping", "path", "URL"):
        return f"{kind}s"
    return kind


def _yaml(value: Any, empty_object: bool = False) -> str:
    """A default as it would be written in YAML, on one line."""
    if empty_object:
        return "{}"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()
