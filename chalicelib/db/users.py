"""SQL for users."""
from __future__ import annotations

import pymysql

from chalicelib import db
from chalicelib.ids import new_id, utcnow


class EmailTaken(Exception):
    pass


def create(email: str, password_hash: str) -> dict:
    user = {"id": new_id("usr"), "email": email, "password_hash": password_hash,
            "created_at": utcnow()}
    try:
        db.execute("INSERT INTO users (id, email, password_hash, created_at)"
                   " VALUES (%(id)s, %(email)s, %(password_hash)s, %(created_at)s)", user)
    except pymysql.IntegrityError as exc:
        raise EmailTaken(email) from exc
    return user


def by_email(email: str) -> dict | None:
    return db.fetch_one("SELECT * FROM users WHERE email = %s", (email,))


def by_id(user_id: str) -> dict | None:
    return db.fetch_one("SELECT * FROM users WHERE id = %s", (user_id,))


def set_password_hash(user_id: str, password_hash: str) -> None:
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
