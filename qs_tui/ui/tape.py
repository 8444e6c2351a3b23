"""A parser for VHS tapes (`demo.tape`): every line checked against VHS's command reference.

VHS cannot run everywhere, so the demo's tape is parsed here and its keystrokes replayed
against the app headlessly (see tests/ui/test_demo_tape.py). The parser knows the commands
VHS documents; anything else is an error naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: `Set` settings and the kind of value each takes.
SETTINGS: dict[str, str] = {
    "Shell": "string",
    "FontFamily": "string",
    "FontSize": "number",
    "LetterSpacing": "number",
    "LineHeight": "number",
    "Width": "number",
    "Height": "number",
    "Padding": "number",
    "Margin": "number",
    "MarginFill": "string",
    "BorderRadius": "number",
    "Framerate": "number",
    "PlaybackSpeed": "number",
    "LoopOffset": "percent",
    "Theme": "theme",
    "TypingSpeed": "time",
    "WindowBar": "string",
    "WindowBarSize": "number",
    "CursorBlink": "boolean",
}

#: Key commands that take an optional `@<time>` and an optional repeat count, and the
#: Textual key each one presses.
KEYS: dict[str, str] = {
    "Backspace": "backspace",
    "Delete": "delete",
    "Insert": "insert",
    "Down": "down",
    "Enter": "enter",
    "Left": "left",
    "Right": "right",
    "Tab": "tab",
    "Up": "up",
    "PageUp": "pageup",
    "PageDown": "pagedown",
    "Space": "space",
    "Escape": "escape",
}

#: Commands without arguments.
BARE = frozenset({"Hide", "Show", "Paste"})

#: Output formats VHS writes.
OUTPUT_SUFFIXES = (".gif", ".mp4", ".webm", ".ascii", ".txt")

_TIME = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_MODIFIED = re.compile(r"^(Ctrl|Alt|Shift)((?:\+(?:Ctrl|Alt|Shift))*)\+(\S+)$")
_KEY_WITH_SPEED = re.compile(r"^([A-Za-z]+)(?:@(\S+))?$")


class TapeError(ValueError):
    """A tape line VHS would not accept; the message names the file and line."""


@dataclass(frozen=True)
class TapeCommand:
    """One command of a tape.

    Attributes:
        line: 1-based line number in the tape.
        name: the command (`Type`, `Sleep`, `Enter`, `Ctrl+C`, `Set`, …).
        args: its arguments as written (quotes removed from strings).
        text: what `Type` types.
        seconds: how long `Sleep` waits.
        key: the Textual key a key command presses (`enter`, `ctrl+c`).
        repeat: how many times a key command presses its key.
    """

    line: int
    name: str
    args: tuple[str, ...] = ()
    text: str = ""
    seconds: float = 0.0
    key: str = ""
    repeat: int = 1


def parse_time(value: str) -> float:
    """A VHS duration (`500ms`, `2s`, `1.5`, `1m`) in seconds.

    Raises:
        ValueError: for anything else.
    """
    match = _TIME.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration (e.g. 500ms, 2s)")
    amount = float(match.group(1))
    unit = match.group(2) or "s"
    return amount / 1000 if unit == "ms" else amount * 60 if unit == "m" else amount


def split_words(line: str) -> list[str]:
    """Split a tape line into words; `"…"`, `'…'` and `` `…` `` quote a word.

    Raises:
        ValueError: for an unterminated quote.
    """
    words: list[str] = []
    index = 0
    while index < len(line):
        char = line[index]
        if char.isspace():
            index += 1
            continue
        if char in "\"'`":
            end = line.find(char, index + 1)
            if end < 0:
                raise ValueError(f"unterminated {char} quote")
            words.append(line[index : end + 1])
            index = end + 1
            continue
        start = index
        while index < len(line) and not line[index].isspace():
            if line[index] in "\"'`":  # `Type@50ms "x"` style: a quote ends the word
                break
            index += 1
        words.append(line[start:index])
    return words


def _unquote(word: str) -> str | None:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'`":
        return word[1:-1]
    return None


def _check_value(setting: str, kind: str, value: str) -> None:
    if kind == "number" and not _NUMBER.match(value):
        raise ValueError(f"Set {setting} takes a number, not {value!r}")
    if kind == "percent" and not re.match(r"^\d+(?:\.\d+)?%?$", value):
        raise ValueError(f"Set {setting} takes a percentage, not {value!r}")
    if kind == "time":
        parse_time(value)
    if kind == "boolean" and value not in ("true", "false"):
        raise ValueError(f"Set {setting} takes true or false, not {value!r}")
    if kind == "string" and _unquote(value) is None and " " in value:
        raise ValueError(f"Set {setting} takes a quoted string")


def _parse_line(number: int, words: list[str]) -> TapeCommand:
    head, rest = words[0], words[1:]
    name, _, speed = head.partition("@")
    if speed:
        parse_time(speed)  # `Type@80ms`, `Enter@1s`: a per-command typing speed
    if name == "Output":
        if len(rest) != 1 or not rest[0].endswith(OUTPUT_SUFFIXES):
            raise ValueError(f"Output takes one path ending in {', '.join(OUTPUT_SUFFIXES)}")
        return TapeCommand(number, name, tuple(rest))
    if name == "Set":
        if len(rest) < 2:
            raise ValueError("Set takes a setting and a value")
        setting, value = rest[0], " ".join(rest[1:])
        kind = SETTINGS.get(setting)
        if kind is None:
            raise ValueError(f"unknown setting {setting!r}; VHS knows {', '.join(SETTINGS)}")
        if kind != "theme":
            _check_value(setting, kind, value)
        return TapeCommand(number, name, (setting, _unquote(value) or value))
    if name == "Type":
        texts = [_unquote(word) for word in rest]
        if not rest or any(text is None for text in texts):
            raise ValueError('Type takes one or more quoted strings: Type "qs-tui"')
        return TapeCommand(number, name, tuple(rest), text="".join(t or "" for t in texts))
    if name == "Sleep":
        if len(rest) != 1:
            raise ValueError("Sleep takes one duration: Sleep 2s")
        return TapeCommand(number, name, tuple(rest), seconds=parse_time(rest[0]))
    if name in KEYS:
        repeat = 1
        if len(rest) > 1 or (rest and not rest[0].isdigit()):
            raise ValueError(f"{name} takes an optional repeat count: {name} 3")
        if rest:
            repeat = int(rest[0])
        return TapeCommand(number, name, tuple(rest), key=KEYS[name], repeat=repeat)
    if name in BARE:
        if rest:
            raise ValueError(f"{name} takes no arguments")
        return TapeCommand(number, name)
    if name in ("Require", "Source", "Screenshot"):
        if len(rest) != 1:
            raise ValueError(f"{name} takes one argument")
        return TapeCommand(number, name, tuple(rest))
    if name == "Copy":
        if len(rest) != 1 or _unquote(rest[0]) is None:
            raise ValueError('Copy takes one quoted string: Copy "text"')
        return TapeCommand(number, name, tuple(rest), text=_unquote(rest[0]) or "")
    if name == "Env":
        if len(rest) != 2 or _unquote(rest[1]) is None:
            raise ValueError('Env takes a name and a quoted value: Env NAME "value"')
        return TapeCommand(number, name, tuple(rest))
    modified = _MODIFIED.match(name)
    if modified is not None:
        if rest:
            raise ValueError(f"{name} takes no arguments")
        modifiers = [modified.group(1), *filter(None, modified.group(2).split("+"))]
        key = modified.group(3)
        base = KEYS.get(key, key.lower())
        if len(key) != 1 and key not in KEYS:
            raise ValueError(f"{name}: {key!r} is not a key")
        textual = "+".join([*(m.lower() for m in modifiers), base])
        return TapeCommand(number, name, key=textual)
    raise ValueError(f"unknown command {name!r}")


def parse_tape(text: str, *, source: str = "demo.tape") -> list[TapeCommand]:
    """Every command of a tape, in order (comments and blank lines skipped).

    Raises:
        TapeError: `demo.tape:12: unknown command 'Slep'` for the first bad line.
    """
    commands: list[TapeCommand] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = split_words(line)
            commands.append(_parse_line(number, words))
        except ValueError as error:
            raise TapeError(f"{source}:{number}: {error}") from None
    return commands


def load_tape(path: Path) -> list[TapeCommand]:
    """Parse the tape at `path` (errors name the file by its name)."""
    return parse_tape(path.read_text(encoding="utf-8"), source=path.name)
