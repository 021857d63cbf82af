from celery import shared_task

from twofactor import policy


@shared_task(name="twofactor.send_grace_reminders")
def send_grace_reminders() -> int:
    return policy.send_grace_reminders()
