"""PostgreSQL URLs as the user gives them: which databases are URLs (`is_url`), a URL checked
before anything connects (`check_url`), and its password kept out of every message
(`describe`, `hide_password`).

The password is found by plain string operations that cannot fail, so a malformed URL is masked
as surely as a good one: it is everything between the first ":" of the user part and the last
"@" before the query, and the value of every `password=` parameter, as written and
percent-decoded. Where a URL is ambiguous, more is masked, never less.
"""
from pathlib import Path
from typing import List, Tuple, Union
from urllib.parse import unquote, urlsplit

from .store import KBError

URL_SCHEMES = ("postgresql", "postgres")
URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
MASK = "***"


def is_url(db: Union[str, Path]) -> bool:
    """Whether a database is a PostgreSQL URL rather than a SQLite file.

    db (Union[str, Path]): The database, as the user gave it.
    RETURNS (bool): True for a postgresql:// or postgres:// URL.
    """
    return isinstance(db, str) and db.partition("://")[0].lower() in URL_SCHEMES and "://" in db


def describe(db: Union[str, Path]) -> str:
    """The database as messages name it: a URL with its password (in the user part or as a
    `password` parameter) written as ***. Never raises, whatever the URL.

    db (Union[str, Path]): The database.
    RETURNS (str): The printable name.
    """
    if not is_url(db):
        return str(db)
    scheme, _, rest = str(db).partition("://")
    main, question, query = rest.partition("?")
    user, at, host = main.rpartition("@")
    if at and ":" in user:
        main = f"{user.partition(':')[0]}:{MASK}@{host}"
    params = [_split_param(param) for param in query.split("&")] if question else []
    query = "&".join(f"{key}={MASK}" if key == "password" else param for param, key, _ in params)
    return f"{scheme}://{main}{question}{query}"


def hide_password(text: str, db: Union[str, Path]) -> str:
    """A message with the password of `db`, as written and percent-decoded, written as ***.

    text (str): The message, from us, psycopg or libpq.
    db (Union[str, Path]): The database the message is about.
    RETURNS (str): The message without the password.
    """
    for secret in sorted(_passwords(db), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def check_url(db: str) -> None:
    """Refuse a malformed PostgreSQL URL before anything connects, in one line that names what
    is wrong and never the password.

    db (str): A postgresql:// URL.
    """
    try:
        parts = urlsplit(db)
        parts.port  # noqa: B018 (parsing the port raises on a bad one)
    except ValueError as err:
        reason = hide_password(" ".join(str(err).split()), db)
        raise KBError(f"The PostgreSQL URL {describe(db)} is malformed ({reason}). Write it as {URL_FORM}.") from None
    if "\x00" in db:
        raise KBError(f"The PostgreSQL URL holds a NUL character (\\x00). Write it as {URL_FORM}.")


def _split_param(param: str) -> Tuple[str, str, str]:
    key, _, value = param.partition("=")
    return param, unquote(key), value


def _passwords(db: Union[str, Path]) -> List[str]:
    if not is_url(db):
        return []
    main, _, query = str(db).partition("://")[2].partition("?")
    user, at, _ = main.rpartition("@")
    written = [user.partition(":")[2]] if at else []
    written += [value for _, key, value in map(_split_param, query.split("&")) if key == "password"]
    return [secret for value in written for secret in {value, unquote(value)} if secret]
