"""The cost estimate's device measurement may run while a run trains: it must leave the run's
random numbers alone."""

import torch

from workbench.core.cost import measure_rate


def test_measuring_the_device_draws_nothing_from_the_global_random_stream():
    torch.manual_seed(123)
    expected = torch.rand(5)  # what the next draw is without the measurement in between
    torch.manual_seed(123)
    rate, overhead = measure_rate(torch.device("cpu"), repeats=1)
    assert torch.equal(torch.rand(5), expected)
    assert rate > 0 and overhead > 0
