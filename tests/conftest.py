"""Shared fixtures. Slow tests (marker `slow`) run real Brian2 simulations."""

from __future__ import annotations

import logging

import pytest

from circuitsim import compose


@pytest.fixture(scope="session")
def default_cfg():
    return compose()


@pytest.fixture(autouse=True)
def _quiet_brian(caplog):
    logging.getLogger("brian2").setLevel(logging.ERROR)
    yield
