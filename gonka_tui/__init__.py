"""gonka: the terminal app of the Gonka network."""

__version__ = "0.1.0"
APP_NAME = "gonka"
