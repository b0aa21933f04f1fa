"""A local emulator of Anthropic's Files API, the image parts of the Messages API, and the
Models API.

    from assetmgr.emulator import running
    with running() as emu:                      # a free port, served in a thread
        client = anthropic.Anthropic(base_url=emu.base_url, api_key="test-key")

Importing this package is cheap: the server, Pillow and the multipart parser load only when
an :class:`Emulator` is created or started. See docs/emulator.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Clock", "Emulator", "running"]

if TYPE_CHECKING:
    from .runner import Emulator, running
    from .store import Clock


def __getattr__(name: str):
    # Lazy, so `assetmgr emulator --help` and the pytest plugin do not pay for the server.
    if name in ("Emulator", "running"):
        from . import runner

        return getattr(runner, name)
    if name == "Clock":
        from .store import Clock

        return Clock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
