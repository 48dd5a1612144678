"""The local SMS sender: appends each SMS as one JSON line to a file the developer reads (`outbox/` is git-ignored).

The line holds the job id, the sender number, the recipient masked except its last two digits, the
full text (the developer needs the join link to try it) and its segment count. The recipient is
masked although the outbox is the developer's own sandbox: a misconfigured deployment could write
it to an app's disk, and outbox files get pasted into tickets; `python -m shared.hl7v2 parse
--show-phone` shows the full number of a message when a developer needs it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from shared.domain.phone import mask_phone
from shared.domain.sms import OutboundSms, SmsReceipt
from shared.domain.sms_text import count_segments
from shared.errors import UpstreamError

logger = logging.getLogger(__name__)


class OutboxSmsSender:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, sms: OutboundSms) -> SmsReceipt:
        """Append `sms` to the outbox. Raises UpstreamError(retryable=True) when the file cannot be written."""
        count = count_segments(sms.text)
        line = {
            "job_id": sms.job_id,
            "sent_at": datetime.now(UTC).isoformat(),
            "from": sms.from_number,
            "to": mask_phone(sms.to_number),
            "segments": count.segments,
            "encoding": count.encoding,
            "text": sms.text,
        }
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as outbox:
                    outbox.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise UpstreamError(f"the SMS outbox {self.path} cannot be written", retryable=True) from exc
        logger.info("SMS job %s written to the outbox", sms.job_id)
        return SmsReceipt(job_id=sms.job_id, accepted=True, message_id=f"outbox-{sms.job_id}")
