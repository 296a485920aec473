"""Fixtures shared by several test modules."""
import sqlite3

import pytest

from spacy_window_ner import kb


@pytest.fixture
def small_database(monkeypatch):
    """Every connection the SQLite back end (kb.sqlite) opens holds at most 40 pages, so a
    build fills it and SQLite answers SQLITE_FULL ("database or disk is full"), as on a full disk."""
    connect = sqlite3.connect

    def small_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA max_page_count = 40")
        return conn

    monkeypatch.setattr(kb.sqlite.sqlite3, "connect", small_connect)
