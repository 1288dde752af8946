"""Outgoing email through Amazon SES (the one AWS factory: SES in AWS, the emulator locally)."""

from __future__ import annotations

import logging

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws

log = logging.getLogger(__name__)


class NotSent(Exception):
    """SES refused or could not be reached; the caller decides whether that matters."""


def send(to: str, subject: str, text: str) -> str:
    """Send a plain-text message from MAIL_FROM; returns SES's message id."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # an emulator's HTML 500: not a BotoCoreError

    try:
        reply = aws.client("ses").send_email(
            Source=get_settings().mail_from,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
            },
        )
    except (BotoCoreError, ClientError, ResponseParserError) as exc:
        log.error("email not sent (%s): %s", subject, type(exc).__name__)
        raise NotSent(subject) from exc
    return reply["MessageId"]
