"""The per-geography `sms-outbound` queue functions: send each SMS job once."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.geos import KNOWN_GEOS, geo_storage_setting
from shared.lazy import lazy_import
from shared.queue_names import SMS_OUTBOUND_QUEUE
from shared.triggers.queue_work import run_queue_message

sms_job = lazy_import("shared.domain.sms_job")
sms_jobs = lazy_import("shared.services.sms_jobs")
job_log = lazy_import("shared.adapters.sms_jobs")

bp = func.Blueprint()


def _register_sms_queue_function(geo: str) -> None:
    @bp.function_name(f"send_sms_job_{geo.lower()}")
    @bp.queue_trigger(arg_name="msg", queue_name=SMS_OUTBOUND_QUEUE, connection=geo_storage_setting(geo))
    def send_queued_sms_job(msg: func.QueueMessage) -> None:
        account = bootstrap.get_storage().for_geo(geo)
        run_queue_message(
            msg,
            queue_name=SMS_OUTBOUND_QUEUE,
            account=account,
            work=lambda payload: sms_jobs.send_sms_job(
                sms_job.SmsJob.from_message(payload),
                geo=geo,
                log=job_log.JobLog(account),
                sender=bootstrap.get_sms_sender(),
                queue=account.queue(SMS_OUTBOUND_QUEUE),
                opt_outs=bootstrap.get_opt_outs(geo),
                now=datetime.now(UTC),
            ),
        )


for _geo in KNOWN_GEOS:
    _register_sms_queue_function(_geo)
