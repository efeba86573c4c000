"""Controllers: the window's logic between the views and the core, one per concern.

Each is a QObject that lives in the UI thread, starts slow work through ``jobs.JobRunner``
(or, for training, a worker on a ``QThread``) and tells the views through signals."""
