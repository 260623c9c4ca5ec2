"""Fixtures shared by the core tests (modules opt in with ``pytest.mark.usefixtures``)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """These models are tiny: a second thread only adds synchronisation (and stalls badly
    when other processes share the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
