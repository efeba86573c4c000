"""CNN Workbench: train the classic convolutional networks and look inside them."""

__version__ = "0.1.0"
