"""A second ``User`` model, to check that same-named models stay apart."""

from __future__ import annotations

import msgspec


class User(msgspec.Struct):
    login: str
