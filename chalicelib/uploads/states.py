"""An upload's states (a leaf, like chalicelib.jobs.states)."""

from enum import Enum


class UploadStatus(str, Enum):
    pending = "pending"  # form handed out; the file has not been seen in S3 yet
    uploaded = "uploaded"  # the file arrived and passed the size and content checks
    rejected = "rejected"  # the file did not match what was declared; it was deleted
    expired = "expired"  # never uploaded, and the form is long gone
