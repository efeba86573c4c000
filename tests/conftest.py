import os
import sys
from pathlib import Path

# Qt must know it has no screen before anything imports it (CI has no display).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# At most four intra-op threads, through the environment before torch loads (torch.set_num_threads
# would fix the count for every thread, overriding the window's one-thread job threads).
os.environ.setdefault("OMP_NUM_THREADS", str(min(4, os.cpu_count() or 1)))

import models  # noqa: E402,F401 - the zoo first: the folder tests/models must never stand in for it
import pytest  # noqa: E402

# The shared helpers (reference.py, fake_datasets.py, fake_folders.py) import by name from any test folder.
sys.path.append(str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def workbench_home(tmp_path, monkeypatch):
    """Runs go to a temporary home, never the user's."""
    home = tmp_path / "home"
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def digits():
    from workbench.core.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def small_digits(digits):
    """The digits with 320 training images: for runs that test the loop, not the accuracy."""
    from torch.utils.data import TensorDataset

    from workbench.core.data import DataBundle

    images, labels = digits.train.tensors
    return DataBundle("digits", digits.classes, 1, (8, 8), TensorDataset(images[:320], labels[:320]),
                      digits.val, digits.test, digits.mean, digits.std, dark_background=True)
