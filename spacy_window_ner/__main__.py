"""Run the command line: `python -m spacy_window_ner --help`."""
from .cli import app

if __name__ == "__main__":
    app(prog_name="spacy-window-ner")
