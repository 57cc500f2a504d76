"""Settings in groups: constructors, environment variables (nested and the old flat names), copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from onlook.config import (
    FLAT_NAMES,
    GROUPS,
    AnswererSettings,
    MemorySettings,
    Settings,
    SourceSettings,
    parse_bytes,
)
from onlook.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ONLOOK_* variable of the machine running the tests leaks into them."""
    import os

    for key in list(os.environ):
        if key.upper().startswith("ONLOOK_"):
            monkeypatch.delenv(key)


def test_defaults_sit_in_their_groups() -> None:
    s = Settings()
    assert set(GROUPS) == {"sources", "perception", "speech", "memory", "answerer", "parser", "server"}
    for name, cls in GROUPS.items():
        assert isinstance(getattr(s, name), cls)
    assert s.sources.fps == 2.0 and s.memory.budget == 500 * 1000**2 and s.answerer.kind == "extractive"
    assert s.speech.enabled is None and s.server.allow_hosts == []


def test_every_flat_name_points_at_a_real_field() -> None:
    for flat, (group, field) in FLAT_NAMES.items():
        assert field in GROUPS[group].model_fields, flat
    # Every grouped field keeps an old flat name, so no setting lost its environment variable.
    covered = set(FLAT_NAMES.values())
    for group, cls in GROUPS.items():
        for field in cls.model_fields:
            assert (group, field) in covered, f"{group}.{field} has no flat name"


def test_groups_are_frozen_and_refuse_unknown_fields() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.sources.fps = 9  # type: ignore[misc]  # the point: frozen models refuse assignment
    with pytest.raises(ValidationError, match="no_such"):
        SourceSettings(no_such=1)  # type: ignore[call-arg]  # the point: extra fields are refused


def test_flat_keywords_go_into_their_groups() -> None:
    s = Settings(fps=4, answerer="openai", answerer_model="m", speech=False, store="cam1", server_names=["a"])
    assert s.sources.fps == 4.0
    assert s.answerer.kind == "openai" and s.answerer.model == "m"
    assert s.speech.enabled is False
    assert s.memory.store == Path("cam1")
    assert s.server.names == ["a"]
    # flat attribute reads still work for everything but the two names that are now groups
    assert s.fps == 4.0 and s.answerer_model == "m" and s.store == Path("cam1")
    assert isinstance(s.answerer, AnswererSettings)


def test_flat_and_grouped_keywords_combine() -> None:
    s = Settings(answerer={"base_url": "http://x/v1"}, answerer_model="m", sources=SourceSettings(fps=3))
    assert s.answerer.base_url == "http://x/v1" and s.answerer.model == "m" and s.sources.fps == 3.0


def test_one_field_given_both_ways_is_refused() -> None:
    with pytest.raises(ConfigError, match="answerer_model and answerer.model"):
        Settings(answerer={"model": "a"}, answerer_model="b")
    with pytest.raises(ConfigError, match="fps and sources.fps"):
        Settings(sources=SourceSettings(fps=3), fps=4)
    assert issubclass(ConfigError, ValueError)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = Settings().no_such_setting


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLOOK_ANSWERER__MODEL", "nested-model")
    monkeypatch.setenv("ONLOOK_SOURCES__FPS", "5")
    monkeypatch.setenv("ONLOOK_MEMORY__BUDGET", "2GiB")
    monkeypatch.setenv("ONLOOK_SERVER__ALLOW_HOSTS", "10.0.0.0/8, cam.lan")
    s = Settings()
    assert s.answerer.model == "nested-model" and s.sources.fps == 5.0
    assert s.memory.budget == 2 * 1024**3
    assert s.server.allow_hosts == ["10.0.0.0/8", "cam.lan"]


def test_old_flat_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLOOK_FPS", "4")
    monkeypatch.setenv("ONLOOK_ANSWERER", "openai")
    monkeypatch.setenv("ONLOOK_ANSWERER_MODEL", "flat-model")
    monkeypatch.setenv("ONLOOK_SPEECH", "false")
    monkeypatch.setenv("ONLOOK_DETECT_FACES", "0")
    monkeypatch.setenv("ONLOOK_BUDGET", "50MB")
    monkeypatch.setenv("ONLOOK_ALLOW_HOSTS", "192.168.1.0/24")
    monkeypatch.setenv("ONLOOK_SERVER_NAMES", "onlook.example.com")
    s = Settings()
    assert s.sources.fps == 4.0
    assert s.answerer.kind == "openai" and s.answerer.model == "flat-model"
    assert s.speech.enabled is False and s.perception.detect_faces is False
    assert s.memory.budget == 50 * 1000**2
    assert s.server.allow_hosts == ["192.168.1.0/24"] and s.server.names == ["onlook.example.com"]


def test_nested_variable_wins_over_flat_and_keywords_win_over_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLOOK_ANSWERER_MODEL", "flat")
    monkeypatch.setenv("ONLOOK_ANSWERER__MODEL", "nested")
    assert Settings().answerer.model == "nested"
    assert Settings(answerer_model="kw").answerer.model == "kw"
    assert Settings(answerer={"model": "kw2"}).answerer.model == "kw2"


def test_group_as_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLOOK_ANSWERER", '{"kind": "openai", "model": "j"}')
    s = Settings()
    assert s.answerer.kind == "openai" and s.answerer.model == "j"


def test_bad_environment_value_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLOOK_FPS", "lots")
    with pytest.raises(ValidationError, match="fps"):
        Settings()
    monkeypatch.delenv("ONLOOK_FPS")
    monkeypatch.setenv("ONLOOK_BUDGET", "huge")
    with pytest.raises(ValidationError, match="cannot read 'huge' as a size"):
        Settings()


def test_environment_is_read_at_construction_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    first = Settings()
    monkeypatch.setenv("ONLOOK_FPS", "7")
    assert first.sources.fps == 2.0 and Settings().sources.fps == 7.0


def test_model_copy_takes_groups_group_fields_and_flat_names() -> None:
    s = Settings(fps=3, answerer_model="m")
    c = s.model_copy(update={"store": "cam1", "answerer": {"base_url": "http://y/v1"}})
    assert c.memory.store == "cam1"  # like pydantic's model_copy, updates are not validated
    assert c.answerer.base_url == "http://y/v1" and c.answerer.model == "m" and c.sources.fps == 3.0
    c2 = s.model_copy(update={"memory": MemorySettings(budget="1MB"), "answerer": "openai"})
    assert c2.memory.budget == 1000**2 and c2.answerer.kind == "openai" and c2.answerer.model == "m"
    assert s.memory.store is None and s.answerer.kind == "extractive"  # the original is untouched
    assert s.model_copy() == s


def test_validate_flat_data_of_the_old_shape() -> None:
    s = Settings.model_validate({"fps": 6, "answerer_retries": 0})
    assert s.sources.fps == 6.0 and s.answerer.retries == 0


def test_open_options_are_open_source_keywords() -> None:
    import inspect

    from onlook.sources import open_source

    opts = SourceSettings(queue_size=4, realtime=True).open_options()
    assert "fps" not in opts and opts["queue_size"] == 4 and opts["realtime"] is True
    params = inspect.signature(open_source).parameters
    assert set(opts) <= set(params), set(opts) - set(params)


@pytest.mark.parametrize("text, expected", [
    ("500MB", 500 * 1000**2), ("2GiB", 2 * 1024**3), ("1.5 kb", 1500), (" 10 ", 10), (7, 7),
])
def test_parse_bytes(text: str | int, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-5MB", "5 parsecs", 0, "MB"])
def test_parse_bytes_refuses(text: str | int) -> None:
    with pytest.raises(ConfigError):
        parse_bytes(text)
