"""Strict YAML reading that remembers where every mapping and key came from.

Loaders validate what they read with `Node` helpers, so every problem becomes one
`InputError` naming the file, the line and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import InputError


class _Map(dict):
    """A YAML mapping with the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _Seq(list):
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `NO` stays Norway, not False."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    result = _Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise InputError(f"duplicate key '{key}'", None, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def read_yaml(path: str | Path) -> Node:
    """Parse a YAML file into a `Node`; any syntax problem is one InputError line."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", path) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except InputError as exc:
        raise InputError(exc.problem, path, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(f"invalid YAML: {exc.problem or exc.context}", path, line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", path) from None
    return Node(data, path, getattr(data, "line", 1) or 1, "document")


class Node:
    """A value read from YAML, with the file and line it came from, and typed accessors."""

    def __init__(self, value: Any, file: str, line: int, name: str):
        self.value = value
        self.file = file
        self.line = line
        self.name = name

    def error(self, problem: str) -> InputError:
        return InputError(problem, self.file, self.line)

    # -- type checks ---------------------------------------------------------
    def mapping(self, allowed: set[str], required: set[str] = frozenset()) -> Node:
        """Check this node is a mapping with only `allowed` keys and all `required` ones."""
        if not isinstance(self.value, dict):
            raise self.error(f"{self.name}: expected a mapping, got {_kind(self.value)}")
        for key in self.value:
            if key not in allowed:
                line = getattr(self.value, "key_lines", {}).get(str(key), self.line)
                expected = ", ".join(sorted(allowed))
                raise InputError(f"{self.name}: unknown key '{key}' (expected one of: {expected})", self.file, line)
        missing = sorted(required - set(self.value))
        if missing:
            raise self.error(f"{self.name}: missing required key '{missing[0]}'")
        return self

    def items(self) -> Iterator[Node]:
        """The items of a list (a missing or null list is empty)."""
        if self.value is None:
            return
        if not isinstance(self.value, list):
            raise self.error(f"{self.name}: expected a list, got {_kind(self.value)}")
        lines = getattr(self.value, "item_lines", [self.line] * len(self.value))
        for index, (item, line) in enumerate(zip(self.value, lines, strict=True)):
            yield Node(item, self.file, getattr(item, "line", line) or line, f"{self.name}[{index}]")

    def entries(self) -> Iterator[tuple[str, Node]]:
        """The (key, value) pairs of a mapping (a missing or null mapping is empty)."""
        if self.value is None:
            return
        if not isinstance(self.value, dict):
            raise self.error(f"{self.name}: expected a mapping, got {_kind(self.value)}")
        for key, item in self.value.items():
            line = getattr(item, "line", None) or getattr(self.value, "key_lines", {}).get(str(key), self.line)
            yield str(key), Node(item, self.file, line, f"{self.name}.{key}")

    def __getitem__(self, key: str) -> Node:
        value = self.value.get(key) if isinstance(self.value, dict) else None
        line = self.line
        if isinstance(self.value, dict):
            line = getattr(value, "line", None) or getattr(self.value, "key_lines", {}).get(key, self.line)
        name = key if self.name == "document" else f"{self.name}.{key}"
        return Node(value, self.file, line, name)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    # -- scalar accessors ----------------------------------------------------
    def str(self, default: str | None = None, choices: tuple[str, ...] | None = None) -> str | None:
        if self.value is None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, (str, int)):
            raise self.error(f"{self.name}: expected a string, got {_kind(self.value)}")
        text = str(self.value)
        if choices and text not in choices:
            raise self.error(f"{self.name}: '{text}' is not one of: {', '.join(choices)}")
        return text

    def req_str(self, choices: tuple[str, ...] | None = None) -> str:
        text = self.str(choices=choices)
        if not text:
            raise self.error(f"{self.name}: expected a non-empty string")
        return text

    def bool(self, default: bool = False) -> bool:
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            raise self.error(f"{self.name}: expected true or false, got {_kind(self.value)}")
        return self.value

    def int(self, default: int, minimum: int = 0) -> int:
        if self.value is None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < minimum:
            raise self.error(f"{self.name}: expected a whole number >= {minimum}, got {self.value!r}")
        return self.value

    def date(self) -> dt.date | None:
        if self.value is None:
            return None
        if isinstance(self.value, dt.datetime):
            return self.value.date()
        if isinstance(self.value, dt.date):
            return self.value
        try:
            return dt.date.fromisoformat(str(self.value))
        except ValueError:
            raise self.error(f"{self.name}: expected a date YYYY-MM-DD, got {self.value!r}") from None

    def str_list(self) -> list[str]:
        """A list of strings; a single string is accepted as a one-item list."""
        if isinstance(self.value, str):
            return [self.value]
        return [item.req_str() for item in self.items()]

    def str_map(self) -> dict[str, str]:
        return {key: item.req_str() for key, item in self.entries()}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return f"{type(value).__name__} {value!r}"
