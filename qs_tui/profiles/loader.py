"""Loading schema profiles: the built-ins shipped in the package and custom TOML files."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qs_tui.profiles.model import DEPLOYMENT_COLUMNS, LOG_COLUMNS, METRIC_COLUMNS, Profile
from qs_tui.tomlfile import TomlFileError, decode_error, field_path, line_of

# The built-ins are package data (`qs_tui/profiles/builtin/*.toml`), found by an installed
# wheel too: importlib.resources reads them wherever the package lives.
_BUILTIN = resources.files("qs_tui.profiles").joinpath("builtin")

#: The names of the built-in profiles (`qs`, `ecs`, `otel`, …), sorted.
BUILTIN_PROFILES: tuple[str, ...] = tuple(
    sorted(
        entry.name.removesuffix(".toml")
        for entry in _BUILTIN.iterdir()
        if entry.name.endswith(".toml")
    )
)

#: The profile used when none is chosen: the shape the simulator writes.
DEFAULT_PROFILE = "qs"


class ProfileError(TomlFileError):
    """A profile that cannot be loaded: `file:line: field: what is wrong`, one line."""

    unnamed = ""


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name (`qs`, `ecs`, `otel`) or a custom one from a `.toml` path.

    Raises:
        ProfileError: an unknown name, an unreadable file, bad TOML or a bad field, with the
            file, the line and the field (`file:line: field: …`), never a traceback.
    """
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_PROFILES:
        label = f"qs_tui/profiles/builtin/{name_or_path}.toml"
        text = _BUILTIN.joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
        return parse_profile(text, path=label, default_name=name_or_path)
    path = Path(name_or_path)
    if not (text_name.endswith(".toml") or path.is_file()):
        known = ", ".join(BUILTIN_PROFILES)
        raise ProfileError(
            f"unknown schema profile {text_name!r}: give a built-in one ({known}) "
            "or a profile TOML file's path"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ProfileError(f"cannot read: {reason}", path=path) from None
    profile = parse_profile(text, path=path, default_name=path.stem)
    return profile.model_copy(update={"path": path})


def parse_profile(
    text: str, *, path: Path | str | None = None, default_name: str = "custom"
) -> Profile:
    """Parse profile TOML `text` (see `load_profile`); `name` defaults to `default_name`."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message, line = decode_error(error)
        raise ProfileError(f"invalid TOML: {message}", path=path, line=line) from None
    data.setdefault("name", default_name)
    _check_names(data, text, path)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as error:
        # A misspelt key explains the "missing" one beside it: report the spelling first.
        item = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required but missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown field"
        extra = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        raise ProfileError(
            message + extra, path=path, line=line_of(text, loc), field=field_path(loc)
        ) from None
    _check_conditions(profile, text, path)
    return profile


def _check_names(data: dict[str, Any], text: str, path: Path | str | None) -> None:
    """Unknown canonical names, reported at their own table or key (not the whole dict)."""
    tables = (
        ("metrics", "signals", METRIC_COLUMNS, "signal"),
        ("logs", "fields", LOG_COLUMNS, "log column"),
        ("deployments", "fields", DEPLOYMENT_COLUMNS, "deployment column"),
    )
    for dataset, table, known, what in tables:
        section = data.get(dataset)
        entries = section.get(table) if isinstance(section, dict) else None
        if not isinstance(entries, dict):
            continue
        for name in entries:
            if name not in known:
                loc = (dataset, table, name)
                raise ProfileError(
                    f"unknown {what} {name!r}; the canonical ones are {', '.join(known)}",
                    path=path,
                    line=line_of(text, loc),
                    field=field_path(loc),
                )


def _check_conditions(profile: Profile, text: str, path: Path | str | None) -> None:
    """Each data set's `where` must be an ES|QL condition; bucket-only options need a bucket."""
    from qs_tui.esql import EsqlError
    from qs_tui.esql.parser import parse

    for name in ("metrics", "logs", "deployments"):
        spec = getattr(profile, name)
        if spec is None or not spec.where.strip():
            continue
        try:
            parse(f"FROM x | WHERE {spec.where}")
        except EsqlError as error:
            loc = (name, "where")
            first = str(error).splitlines()[0]
            raise ProfileError(
                f"not an ES|QL condition: {first}",
                path=path,
                line=line_of(text, loc),
                field=field_path(loc),
            ) from None
    metrics = profile.metrics
    if metrics is None or metrics.bucket is not None:
        return
    for column, signal in metrics.signals.items():
        problem = None
        if signal.agg in ("rate", "ratio", "percentile"):
            problem = ("agg", f'agg = {signal.agg!r} needs [metrics] bucket = "…"')
        elif signal.where or signal.of:
            problem = ("where", 'where needs [metrics] bucket = "…" (per-document mode)')
        if problem:
            where: tuple[str, ...] = ("metrics", "signals", column, problem[0])
            raise ProfileError(
                problem[1], path=path, line=line_of(text, where), field=field_path(where)
            )
