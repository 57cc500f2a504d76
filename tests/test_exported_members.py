"""The package root is the API: ``__all__`` lists exactly what it exports (as httpx's own test does)."""

import types

import onlook


def test_all_lists_every_public_member() -> None:
    public = {
        name
        for name, value in vars(onlook).items()
        # Submodules appear as attributes once imported; they are the implementation, not the API.
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, types.ModuleType)
    }
    assert sorted(onlook.__all__) == sorted(public)


def test_all_is_sorted_and_unique() -> None:
    assert len(set(onlook.__all__)) == len(onlook.__all__)
    assert list(onlook.__all__) == sorted(onlook.__all__)


def test_every_export_resolves_and_names_itself() -> None:
    for name in onlook.__all__:
        value = getattr(onlook, name)
        # Classes and functions exported under another name would confuse docs and reprs.
        if isinstance(value, (type, types.FunctionType)):
            assert value.__name__ == name, name


def test_the_main_seams_are_importable_from_the_root() -> None:
    from onlook import (
        BaseAnswerer,
        ExtractiveAnswerer,
        FakeAnswerer,
        OpenAIAnswerer,
        Settings,
        StreamEngine,
        open_source,
    )

    assert issubclass(ExtractiveAnswerer, BaseAnswerer) and issubclass(OpenAIAnswerer, BaseAnswerer)
    assert issubclass(FakeAnswerer, BaseAnswerer)
    assert callable(open_source) and isinstance(Settings(), Settings) and StreamEngine.__module__ == "onlook.engine"
