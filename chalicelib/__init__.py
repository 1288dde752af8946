"""All logic of the media orchestrator, shared by the API, the functions and the worker."""
