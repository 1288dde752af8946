"""The base of every pydantic model in chalicelib: a model's validator and serializer are built
the first time it is used, not when its module is imported.

Building one costs about a millisecond; the API defines some ninety models and a request uses a
handful, so building them all on import was most of a cold start (bench/coldstart.py). For the
same reason the modules that define many models do without `from __future__ import annotations`:
pydantic would compile each annotation string when the class is created.
"""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
