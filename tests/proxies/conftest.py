"""Proxy tests run on one CPU thread: the machine is shared, and runs are bit-identical per thread count."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
