"""SendGrid Event Webhook JSON lines, written a chunk of contacts at a time."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from orchestration.sample.email_events import Campaigns, EmailEvents
from orchestration.sample.landing.shared import bad_email, copy_by_day, corruption, register
from orchestration.sample.params import SampleParams


def load_campaigns(con: duckdb.DuckDBPyConnection, campaigns: Campaigns) -> None:
    register(
        con,
        "campaigns",
        {
            "idx": np.arange(len(campaigns.t)),
            "t": campaigns.t,
            "kind": campaigns.kind,
            "grp": campaigns.group,
        },
    )


def load_events(
    con: duckdb.DuckDBPyConnection,
    params: SampleParams,
    events: EmailEvents,
    send_base: int,
    event_base: int,
    rng: np.random.Generator,
) -> None:
    """Register one chunk of events; the bases keep send and event ids unique across chunks."""
    register(
        con,
        "sends",
        {
            "idx": send_base + np.arange(len(events.send_contact)),
            "contact": events.send_contact,
            "campaign": events.send_campaign,
        },
    )
    register(
        con,
        "events_raw",
        {
            "event_id": event_base + events.event_id,
            "send": send_base + events.send,
            "type": events.type,
            "t": events.t,
            "arrival_t": events.arrival_t,
            "hard": events.hard,
            "machine": events.machine,
            "link": events.link,
            "corrupt": corruption(rng, params, events.arrival_t, (1, 2, 4)),
        },
    )


def write_email_events(
    con: duckdb.DuckDBPyConnection, params: SampleParams, out: Path, chunk: int
) -> None:
    query = f"""
        select
            landing_day(e.arrival_t) as day,
            {bad_email("p.email", "e.corrupt")} as email,
            unix_ts(e.t) as timestamp,
            case when e.corrupt = 4 then 'opened' else et.value end as event,
            substr(md5('event:{params.seed}:' || e.event_id), 1, 22) as sg_event_id,
            substr(md5('send:{params.seed}:' || e.send), 1, 22) || '.filterdrecv-1-0'
                as sg_message_id,
            [k.value] as category,
            'cmp_' || c.idx as campaign_id,
            c.grp as asm_group_id,
            case when et.value = 'click' then 'https://shop.example.com' || lk.value end as url,
            case when et.value = 'bounce' then case when e.hard
                then '550 5.1.1 The email account that you tried to reach does not exist.'
                else '421 4.7.0 Temporarily rate limited, try again later.' end
            end as reason,
            case when et.value = 'bounce' then case when e.hard then '5.1.1' else '4.7.0' end
            end as status,
            case when et.value = 'bounce' then case when e.hard then 'bounce' else 'blocked' end
            end as type,
            case when et.value = 'bounce' then case when e.hard then 'Invalid Address'
                else 'Technical' end end as bounce_classification,
            case when et.value = 'open' then e.machine end as sg_machine_open,
            case when et.value = 'delivered' then '250 OK' end as response,
        from events_raw e
        join sends s on s.idx = e.send
        join campaigns c on c.idx = s.campaign
        join campaign_kinds k on k.idx = c.kind
        join people p on p.idx = s.contact
        join event_types et on et.idx = e.type
        left join links lk on lk.idx = e.link
    """
    copy_by_day(
        con, query, out, "email_events", "jsonl", f"email_events_{chunk:03d}", chunk == 0,
        params.compress,
    )  # fmt: skip
