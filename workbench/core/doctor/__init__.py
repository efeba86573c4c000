"""The dataset doctor: the mislabelled, duplicated and out-of-place images of a user's folder, found with
the network they trained, and fixed by file moves that can all be undone.

- ``report.examine(root, run)``: findings (``Finding``) in a ``DoctorReport``, written as CSV and JSON;
- ``features``: the network's view of each image (remembered by content and weights);
- ``findings``: held-out probabilities, confident learning (cleanlab), near-duplicates, outliers, the 2-D map;
- ``moves``: ``apply_fixes`` and ``undo``, with the log inside the dataset folder.

scikit-learn and cleanlab come with the ``doctor`` extra; ``findings.needed()`` says how to get them."""

from .findings import INSTALL_HINT, MissingLibraryError, TooSmallError, needed
from .moves import ACTIONS, Batch, Fix, MoveError, apply_fixes, checked_marks, read_log, undo
from .report import CSV_FIELDS, KINDS, DoctorError, DoctorReport, Finding, examine, find_run, read_fixes

__all__ = ["ACTIONS", "Batch", "CSV_FIELDS", "DoctorError", "DoctorReport", "Finding", "Fix", "INSTALL_HINT", "KINDS",
           "MissingLibraryError", "MoveError", "TooSmallError", "apply_fixes", "checked_marks", "examine", "find_run",
           "needed", "read_fixes", "read_log", "undo"]
