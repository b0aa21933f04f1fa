"""pytest fixtures for code that talks to the Files API: a running emulator per test.

Registered through the ``pytest11`` entry point, so any project with assetmgr installed gets:

- ``anthropic_emulator``: a started :class:`~assetmgr.emulator.Emulator` on a free port;
  point the SDK at ``anthropic_emulator.base_url``.
- ``anthropic_emulator_factory``: call it with Emulator keyword arguments to get more
  (fault injection, workspaces, quotas); each is stopped after the test.

Importing this module loads nothing but pytest; the emulator loads when a fixture is used.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def anthropic_emulator_factory():
    started = []

    def make(**kwargs):
        from .runner import Emulator

        emulator = Emulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def anthropic_emulator(anthropic_emulator_factory):
    return anthropic_emulator_factory()
