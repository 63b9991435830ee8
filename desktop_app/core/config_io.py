"""RunConfig to and from JSON: strict (unknown keys are errors with a did-you-mean),
typed, and with paths resolved against the config file's folder."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from desktop_app.core.config import CONFIG_VERSION, DEMO_MODEL, RunConfig
from desktop_app.core.errors import ConfigError

#: Fields holding file paths; relative paths in a config file are relative to that file.
PATH_FIELDS = (("model", "path"), ("data", "train"), ("data", "validation_file"), ("output", "dir"))


def _did_you_mean(name: str, known: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


def _type_name(annotation: Any) -> str:
    names: dict[Any, str] = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "text",
    }
    origin = typing.get_origin(annotation)
    if origin is dict:
        return "an object"
    if origin is list:
        return "a list"
    args = typing.get_args(annotation)
    if args:
        return " or ".join("null" if a is type(None) else names.get(a, str(a)) for a in args)
    return names.get(annotation, str(annotation))


def _coerce(value: Any, annotation: Any, dotted: str, source: str | None) -> Any:
    """Check a JSON value against a field's type; ints are accepted where floats are.

    Lists and objects are only checked for being a list or an object here; their
    sections check the contents and name the exact entry.
    """
    allowed = (
        typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    )
    for kind in allowed:
        origin = typing.get_origin(kind)
        if origin is dict and isinstance(value, dict):
            return dict(value)
        if origin is list and isinstance(value, list):
            return list(value)
        if kind is type(None) and value is None:
            return None
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    raise ConfigError(
        dotted,
        f"must be {_type_name(annotation)} (got {json.dumps(value)}).",
        source,
    )


def config_from_dict(raw: Any, source: str | None = None) -> RunConfig:
    """Build a validated RunConfig from parsed JSON.

    Args:
        raw: The parsed JSON object.
        source: The file it came from, named in error messages.

    Raises:
        ConfigError: naming the first field that is unknown, mistyped or out of range.
    """
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", "must be a JSON object with sections.", source)
    version = raw.get("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ConfigError(
            "version",
            f"is {version!r}, but this version of Enclave reads version {CONFIG_VERSION}.",
            source,
        )
    known = set(RunConfig.SECTIONS) | {"version"}
    for key in raw:
        if key not in known:
            raise ConfigError(key, f"is not a known section.{_did_you_mean(key, known)}", source)
    sections: dict[str, Any] = {}
    for section_name, section_cls in RunConfig.SECTIONS.items():
        body = raw.get(section_name, {})
        if not isinstance(body, dict):
            raise ConfigError(section_name, "must be a JSON object.", source)
        hints = typing.get_type_hints(section_cls)
        fields = {f.name for f in dataclasses.fields(section_cls)}
        values: dict[str, Any] = {}
        for key, value in body.items():
            dotted = f"{section_name}.{key}"
            if key not in fields:
                raise ConfigError(
                    dotted, f"is not a known field.{_did_you_mean(key, fields)}", source
                )
            values[key] = _coerce(value, hints[key], dotted, source)
        try:
            sections[section_name] = section_cls(**values)
        except ConfigError as error:
            raise ConfigError(error.field, error.detail, source) from None
    return RunConfig(**sections)


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """The JSON form of a RunConfig, with ``version`` first."""
    result: dict[str, Any] = {"version": config.version}
    for section_name in RunConfig.SECTIONS:
        result[section_name] = dataclasses.asdict(getattr(config, section_name))
    return result


def _resolve_paths(config: RunConfig, base: Path) -> None:
    for entry in config.data.mix:
        if isinstance(entry.get("path"), str):
            entry["path"] = str(base / Path(os.path.expanduser(entry["path"])))
    for section_name, field_name in PATH_FIELDS:
        section = getattr(config, section_name)
        value = getattr(section, field_name)
        if not value or value == DEMO_MODEL:
            continue
        expanded = Path(os.path.expanduser(value))
        if expanded.is_absolute():
            setattr(section, field_name, str(expanded))
            continue
        candidate = base / expanded
        # A model path that does not exist next to the config is left as written, so the
        # model loader can say what it is (for example a hub id, which is refused).
        if section_name == "model" and not candidate.exists():
            continue
        setattr(section, field_name, str(candidate))


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a run configuration file.

    Relative paths inside the file are taken relative to the file's folder.

    Raises:
        ConfigError: the file is missing, is not JSON, or a field is wrong.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("(file)", "does not exist.", source) from None
    except OSError as error:
        raise ConfigError("(file)", f"cannot be read ({error.strerror}).", source) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            "(file)",
            f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.",
            source,
        ) from None
    config = config_from_dict(raw, source)
    _resolve_paths(config, Path(path).resolve().parent)
    return config


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write a run configuration as indented JSON (atomically: temp file, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(config_to_dict(config), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
