"""The base of every pydantic model in chalicelib: a model's validator and serializer are built
the first time it is used, not when its module is imported.

Building one costs about a millisecond; the API defines some ninety models and a request uses a
handful, so building them all on import was most of a cold start (bench/coldstart.py). For the
same reason the modules that define many models do without `from __future__ import annotations`:
pydantic would compile each annotation string when the class is created.
"""

import os

from pydantic import BaseModel, ConfigDict

# We use no pydantic plug-ins, and looking for them reads the entry points of every installed
# package (~25 ms of each cold start). pydantic asks when it builds the first model, which is one
# of ours (every model module imports this one first). PYDANTIC_DISABLE_PLUGINS="" loads them.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
