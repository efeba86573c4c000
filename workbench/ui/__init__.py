"""The Qt window. The only package that imports PySide6 and pyqtgraph.

Nothing heavy is imported here: ``app`` shows a window before torch and pyqtgraph load."""
