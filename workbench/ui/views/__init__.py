"""The window's views, one per file. A view shows what it is given and emits what the user
asks for; it never holds a model and never does slow work. Views that plot take pyqtgraph from
``plotting``, where it is configured."""
