"""The ESP's event stream: campaigns, sends and what recipients did with them.

Rates follow what e-commerce senders see: about 98% delivered, a third of deliveries opened
by people (and nearly all by Apple's privacy proxy for its users), a few percent clicked,
and rare unsubscribes and spam complaints. Unsubscribing, hard-bouncing or complaining stops
the mail; a few unsubscribers opt in again later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.sample.people import DAY, People

# Campaign weekdays (Monday = 0) and their unsubscribe groups (SendGrid ASM group ids).
CAMPAIGN_WEEKDAYS = (1, 4)
CAMPAIGN_KINDS = (("newsletter", 101), ("promotion", 102), ("product_launch", 102))
ASM_GROUPS = (101, 102)
RECEIVE_PROBABILITY = 0.5
SOFT_BOUNCE = 0.015
MACHINE_OPEN = 0.95
CLICK_GIVEN_OPEN = 0.12
UNSUBSCRIBE = 0.002
GROUP_UNSUBSCRIBE_SHARE = 0.4
SPAM_REPORT = 0.0004
RESUBSCRIBE_SHARE = 0.1
DUPLICATE_SHARE = 0.01
LATE_SHARE = 0.03

EVENT_TYPES = (
    "processed",
    "delivered",
    "open",
    "click",
    "bounce",
    "unsubscribe",
    "group_unsubscribe",
    "spamreport",
)
PROCESSED, DELIVERED, OPEN, CLICK, BOUNCE, UNSUBSCRIBE_EV, GROUP_UNSUB, SPAM = range(8)


@dataclass(frozen=True)
class Campaigns:
    t: np.ndarray
    kind: np.ndarray  # index into CAMPAIGN_KINDS

    @property
    def group(self) -> np.ndarray:
        return np.array([g for _, g in CAMPAIGN_KINDS])[self.kind]


@dataclass(frozen=True)
class EmailEvents:
    """One entry per landed event line (duplicates included), in no particular order."""

    event_id: np.ndarray  # stable id of the event; a duplicate repeats it
    send: np.ndarray  # index into sends
    type: np.ndarray  # index into EVENT_TYPES
    t: np.ndarray
    arrival_t: np.ndarray  # when the webhook delivered it (late events land days later)
    hard: np.ndarray  # bounce: hard (True) or soft/blocked
    machine: np.ndarray  # open: Apple Mail Privacy Protection
    link: np.ndarray  # click: index of the link
    send_contact: np.ndarray  # per send
    send_campaign: np.ndarray  # per send
    unsubscribed_t: np.ndarray  # per contact: global unsubscribe time, -1 if none or not in chunk
    resubscribed_t: np.ndarray  # per contact: opt-in again, -1 if none or not in chunk

    @property
    def size(self) -> int:
        return len(self.t)


def build_campaigns(start_weekday: int, days: int, rng: np.random.Generator) -> Campaigns:
    day = np.arange(days)
    day = day[np.isin((day + start_weekday) % 7, CAMPAIGN_WEEKDAYS)]
    t = day * DAY + 10 * 3_600 + rng.integers(0, 1_800, size=len(day))
    return Campaigns(t=t, kind=rng.choice(len(CAMPAIGN_KINDS), size=len(day), p=[0.5, 0.35, 0.15]))


def _draw_sends(
    people: People,
    signup_t: np.ndarray,
    campaigns: Campaigns,
    contacts: slice,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Each subscribed contact receives a share of the campaigns sent after they signed up."""
    who = contacts.start + np.flatnonzero(people.accepts_marketing[contacts])
    first = np.searchsorted(campaigns.t, signup_t[who], side="right")
    available = len(campaigns.t) - first
    counts = rng.binomial(available, RECEIVE_PROBABILITY)
    contact = np.repeat(who, counts)
    offset = (rng.random(len(contact)) * np.repeat(available, counts)).astype(np.int64)
    campaign = np.repeat(first, counts) + offset
    key = np.unique(contact.astype(np.int64) * len(campaigns.t) + campaign)
    return key // len(campaigns.t), key % len(campaigns.t)


def _first_per_contact(contact: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(out, contact, t)
    return out


def build_email_events(
    people: People,
    signup_t: np.ndarray,
    campaigns: Campaigns,
    horizon: int,
    contacts: slice,
    rng: np.random.Generator,
) -> EmailEvents:
    """The events of the contacts in `contacts` (a slice of people, so memory stays bounded)."""
    never = np.iinfo(np.int64).max
    contact, campaign = _draw_sends(people, signup_t, campaigns, contacts, rng)
    group = np.searchsorted(ASM_GROUPS, campaigns.group[campaign])
    sent_t = campaigns.t[campaign] + rng.integers(0, 600, size=len(contact))
    n = len(contact)

    # Outcome draws for every drawn send; sends after a stop are discarded below.
    is_first = np.zeros(n, dtype=bool)
    is_first[np.unique(contact, return_index=True)[1]] = True
    hard = people.bad_address[contact] & is_first
    soft = ~hard & (rng.random(n) < SOFT_BOUNCE)
    delivered = ~hard & ~soft
    delivered_t = sent_t + rng.integers(1, 120, size=n)
    unsub = delivered & (rng.random(n) < UNSUBSCRIBE)
    group_unsub = unsub & (rng.random(n) < GROUP_UNSUBSCRIBE_SHARE)
    global_unsub = unsub & ~group_unsub
    spam = delivered & ~unsub & (rng.random(n) < SPAM_REPORT)
    react_t = delivered_t + (rng.exponential(6 * 3_600, size=n)).astype(np.int64)

    n_people = people.size
    unsub_t = _first_per_contact(contact[global_unsub], react_t[global_unsub], n_people)
    stop_t = np.minimum.reduce(
        [
            _first_per_contact(contact[hard], sent_t[hard], n_people),
            _first_per_contact(contact[spam], react_t[spam], n_people),
            unsub_t,
        ]
    )
    resub = (unsub_t == stop_t) & (unsub_t < never) & (rng.random(n_people) < RESUBSCRIBE_SHARE)
    resub_t = np.where(resub, unsub_t + rng.integers(30 * DAY, 300 * DAY, size=n_people), never)
    resub_t = np.where(resub_t < horizon, resub_t, never)
    group_stop = np.full((n_people, len(ASM_GROUPS)), never)
    np.minimum.at(group_stop, (contact[group_unsub], group[group_unsub]), react_t[group_unsub])

    after_resub = sent_t >= resub_t[contact]
    keep = ((sent_t <= stop_t[contact]) | after_resub) & (sent_t <= group_stop[contact, group])
    keep &= sent_t < horizon
    # Sends after an opt-in again carry no second stop, to keep the story simple.
    for flags in (hard, global_unsub, group_unsub, spam):
        flags &= ~after_resub
    keep_idx = np.flatnonzero(keep)

    events = _expand_events(
        people, contact, sent_t, delivered_t, react_t, hard, soft, delivered, global_unsub,
        group_unsub, spam, keep_idx, rng,
    )  # fmt: skip
    send_idx, etype, t, hard_flag, machine, link = events
    visible = t < horizon
    send_idx, etype, t = send_idx[visible], etype[visible], t[visible]
    hard_flag, machine, link = hard_flag[visible], machine[visible], link[visible]

    event_id = np.arange(len(t), dtype=np.int64)
    dup = rng.random(len(t)) < DUPLICATE_SHARE
    lag = np.where(rng.random(len(t)) < LATE_SHARE, rng.integers(1, 4, size=len(t)) * DAY, 0)
    arrival = t + lag + rng.integers(0, 300, size=len(t))
    dup_arrival = arrival[dup] + rng.integers(0, 2, size=int(dup.sum())) * DAY
    cat = np.concatenate  # short alias for the duplicate rows appended below
    arrival_all = cat([arrival, dup_arrival])
    landed = arrival_all < horizon
    return EmailEvents(
        event_id=cat([event_id, event_id[dup]])[landed],
        send=cat([send_idx, send_idx[dup]])[landed],
        type=cat([etype, etype[dup]])[landed],
        t=cat([t, t[dup]])[landed],
        arrival_t=arrival_all[landed],
        hard=cat([hard_flag, hard_flag[dup]])[landed],
        machine=cat([machine, machine[dup]])[landed],
        link=cat([link, link[dup]])[landed],
        send_contact=contact,
        send_campaign=campaign,
        unsubscribed_t=np.where(unsub_t < horizon, unsub_t, -1),
        resubscribed_t=np.where(resub_t < never, resub_t, -1),
    )


def _expand_events(
    people: People,
    contact: np.ndarray,
    sent_t: np.ndarray,
    delivered_t: np.ndarray,
    react_t: np.ndarray,
    hard: np.ndarray,
    soft: np.ndarray,
    delivered: np.ndarray,
    global_unsub: np.ndarray,
    group_unsub: np.ndarray,
    spam: np.ndarray,
    keep_idx: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Turn the kept sends into event rows, one block per event type."""
    k = keep_idx
    c = contact[k]
    m = len(k)
    engaged = rng.random(m) < people.engagement[c]
    machine_open = people.machine_opener[c] & (rng.random(m) < MACHINE_OPEN)
    dlv = delivered[k]
    human_open = dlv & engaged
    second_open = human_open & (rng.random(m) < 0.25)
    click = human_open & (rng.random(m) < CLICK_GIVEN_OPEN)
    open_t = delivered_t[k] + rng.exponential(3 * 3_600, size=m).astype(np.int64) + 60
    machine_t = delivered_t[k] + rng.integers(60, 1_800, size=m)
    blocks = [
        (np.ones(m, dtype=bool), PROCESSED, sent_t[k], False),
        (dlv, DELIVERED, delivered_t[k], False),
        (hard[k] | soft[k], BOUNCE, sent_t[k] + 30, False),
        (machine_open & dlv, OPEN, machine_t, True),
        (human_open, OPEN, open_t, False),
        (second_open, OPEN, open_t + rng.integers(600, 2 * DAY, size=m), False),
        (click, CLICK, open_t + rng.integers(10, 600, size=m), False),
        (global_unsub[k], UNSUBSCRIBE_EV, react_t[k], False),
        (group_unsub[k], GROUP_UNSUB, react_t[k], False),
        (spam[k], SPAM, react_t[k], False),
    ]
    send_idx, etype, t, machine, hard_flag = [], [], [], [], []
    for mask, code, times, is_machine in blocks:
        send_idx.append(k[mask])
        etype.append(np.full(int(mask.sum()), code, dtype=np.int8))
        t.append(times[mask])
        machine.append(np.full(int(mask.sum()), is_machine))
        hard_flag.append(hard[k][mask] if code == BOUNCE else np.zeros(int(mask.sum()), dtype=bool))
    etype_all = np.concatenate(etype)
    return (
        np.concatenate(send_idx),
        etype_all,
        np.concatenate(t),
        np.concatenate(hard_flag),
        np.concatenate(machine),
        np.where(etype_all == CLICK, rng.integers(0, 6, size=len(etype_all)), -1),
    )
