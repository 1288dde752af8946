"""All logic of the media orchestrator, shared by the API, the functions and the worker."""

import os

# We use no pydantic plugins, and looking for them reads the entry points of every installed
# package (~25 ms of each cold start). Set PYDANTIC_DISABLE_PLUGINS to "" to load them.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
