"""Loading schema profiles: built-ins by name, custom files by path, errors naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from qs_tui.profiles import BUILTIN_PROFILES, ProfileError, load_profile, parse_profile
from qs_tui.profiles.model import METRIC_COLUMNS

GOOD = """\
name = "shop"
description = "our own shape"

[metrics]
indices = ["shop-metrics-*"]
bucket = "30 seconds"
service = "svc"
region = "zone"
host = "node"

[metrics.signals.cpu_percent]
field = "cpu.busy"
scale = 100.0

[metrics.signals.error_rate]
agg = "ratio"
where = { outcome = "failure" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shop.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_builtin_qs_profile_maps_every_canonical_signal_to_itself() -> None:
    assert "qs" in BUILTIN_PROFILES
    profile = load_profile("qs")
    assert profile.metrics is not None
    assert profile.metrics.indices == ["qs-metrics"]
    assert {c: s.field for c, s in profile.metrics.signals.items()} == {
        c: c for c in METRIC_COLUMNS
    }
    assert profile.logs is not None and profile.logs.indices == ["qs-logs"]
    assert profile.deployments is not None and profile.deployments.indices == ["qs-deployments"]


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_every_builtin_profile_loads(name: str) -> None:
    assert load_profile(name).name == name


def test_a_custom_profile_loads_from_its_path(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    profile = load_profile(str(path))
    assert profile.name == "shop"
    assert profile.path == path
    assert profile.metrics is not None and profile.metrics.bucket == "30 seconds"
    assert profile.metrics.signals["error_rate"].where == {"outcome": "failure"}
    assert profile.logs is None


@pytest.mark.parametrize(
    ("change", "line", "expected"),
    [
        (
            ('agg = "ratio"', 'agg = "median"'),
            16,
            "metrics.signals.error_rate.agg: Input should be",
        ),
        (('field = "cpu.busy"', 'field = "cpu busy"'), 12, "'cpu busy' is not a field name"),
        (('bucket = "30 seconds"', 'bucket = "soon"'), 6, "metrics.bucket: 'soon' is not a"),
        (("[metrics.signals.error_rate]", "[metrics.signals.errors]"), 15, "unknown signal"),
        (('host = "node"', 'hots = "node"'), 9, "metrics.hots: unknown field"),
        (('service = "svc"', 'where = "cpu >"\nservice = "svc"'), 7, "not an ES|QL condition"),
        (('indices = ["shop-metrics-*"]', 'indices = ["Shop Metrics"]'), 5, "not an index name"),
    ],
)
def test_a_bad_field_names_the_file_the_line_and_the_field(
    tmp_path: Path, change: tuple[str, str], line: int, expected: str
) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert expected in message
    assert "\n" not in message


def test_a_missing_dimension_is_reported_at_its_table(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('region = "zone"\n', ""))
    with pytest.raises(ProfileError, match=r"shop.toml:4: metrics.region: required but missing"):
        load_profile(path)


def test_bucket_only_aggregations_need_a_bucket(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('bucket = "30 seconds"\n', ""))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == (
        f"{path}:15: metrics.signals.error_rate.agg: agg = 'ratio' needs [metrics] bucket = \"…\""
    )


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("scale = 100.0", "scale = = 100.0"))
    with pytest.raises(ProfileError, match=rf"^{path}:13: invalid TOML: "):
        load_profile(path)


def test_an_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(ProfileError, match=r"^unknown schema profile 'nope': give a built-in .*qs"):
        load_profile("nope")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"missing.toml: cannot read: No such file"):
        load_profile(tmp_path / "missing.toml")


def test_the_readme_example_is_the_tested_shop_profile() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A complete custom profile", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    shop = load_profile(Path(__file__).parent / "shop.toml")
    assert parse_profile(example).model_dump() == shop.model_dump()
