"""Klaviyo-specific behaviour: which profiles Klaviyo will not mail from our list, read off
the `subscriptions` Klaviyo answers. (What every ESP must do is in test_esp_adapters.py.)"""

from __future__ import annotations

import pytest

from orchestration.publish.klaviyo import email_status

OURS, OTHER = "L1", "L9"


def _marketing(**fields: object) -> dict:
    marketing = {"can_receive_email_marketing": True, "consent": "NEVER_SUBSCRIBED"}
    marketing.update(fields)
    return {"email": {"marketing": marketing}}


@pytest.mark.parametrize(
    ("subscriptions", "status"),
    [
        # Never subscribed, subscribed, or no answer at all: Klaviyo mails them.
        (_marketing(), None),
        (_marketing(consent="SUBSCRIBED"), None),
        (None, None),
        # A global suppression, by its reason; an unknown reason still suppresses.
        (_marketing(suppression=[{"reason": "UNSUBSCRIBE"}]), "unsubscribed"),
        (_marketing(suppression=[{"reason": "USER_SUPPRESSED"}]), "unsubscribed"),
        (_marketing(suppression=[{"reason": "HARD_BOUNCE"}]), "cleaned"),
        (_marketing(suppression=[{"reason": "INVALID_EMAIL"}]), "cleaned"),
        (_marketing(suppression=[{"reason": "SPAM_COMPLAINT"}]), "complained"),
        (_marketing(suppression=[{"reason": "SOMETHING_NEW"}]), "suppressed"),
        # Klaviyo's own verdict, even without a reason given.
        (_marketing(can_receive_email_marketing=False), "suppressed"),
        # An opt-out without a suppression entry.
        (_marketing(consent="UNSUBSCRIBED"), "unsubscribed"),
        # Suppressed from our list: not mailable from it; from another list only: mailable.
        (
            _marketing(list_suppressions=[{"list_id": OURS, "reason": "UNSUBSCRIBE"}]),
            "unsubscribed",
        ),
        (_marketing(list_suppressions=[{"list_id": OTHER, "reason": "UNSUBSCRIBE"}]), None),
    ],
)
def test_what_klaviyo_will_not_mail_is_an_esp_status(
    subscriptions: dict | None, status: str | None
) -> None:
    assert email_status(subscriptions, OURS) == status
