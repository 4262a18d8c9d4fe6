"""specrelay: a coding task run through a team of language models, talking only through files in git."""

__version__ = "0.1.0"
