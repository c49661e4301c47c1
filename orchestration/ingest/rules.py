"""Row-level rules: which landed rows are quarantined instead of loaded, and why.

A rule is a SQL predicate over a source's read columns that is true for a bad row. Rules run
in DuckDB on the whole batch before the per-day replace, so a bad row never reaches a raw
table and a backfill of two years costs one pass. The first rule a row breaks names it.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.quality_thresholds import QualityThresholds

# The same shape of address as dbt's `is_valid_email` macro: one @, a dot in the domain.
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"
# Every event type of SendGrid's Event Webhook (delivery and engagement events).
SENDGRID_EVENTS = (
    "processed",
    "dropped",
    "delivered",
    "deferred",
    "bounce",
    "blocked",
    "open",
    "click",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
)
# Shopify's order financial statuses (REST Admin API `financial_status`), lower-cased at load.
FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
)
CONSENT_STATES = ("subscribed", "not_subscribed", "unsubscribed", "pending", "redacted", "invalid")
CONFLICTING_DUPLICATE = "conflicting_duplicate"
# SendGrid sends epoch seconds; some relays send milliseconds. 10^11 seconds is the year 5138,
# so a larger number is read as milliseconds (dbt's `epoch_to_utc_timestamp` does the same).
EPOCH_MILLISECONDS_FROM = 100_000_000_000
# Text timestamps: ISO 8601 first, then these common export formats, read as UTC (dbt's
# `parse_utc_timestamp` reads the same ones). Month first: the US order Shopify exports use.
TEXT_TIMESTAMP_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


@dataclass(frozen=True)
class RowRule:
    name: str
    bad_when: str  # SQL, true for a row that breaks the rule
    reason: str  # for people: what is wrong and what to do


def _sql_strings(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def epoch_timestamp_sql(epoch: str) -> str:
    """A TIMESTAMPTZ from epoch seconds or milliseconds."""
    return (
        f"to_timestamp(case when abs({epoch}) >= {EPOCH_MILLISECONDS_FROM} "
        f"then {epoch} / 1000.0 else {epoch} end)"
    )


def text_timestamp_sql(text: str) -> str:
    """A TIMESTAMPTZ from landed text (ISO 8601 or a common format), NULL if unreadable."""
    formats = "[" + _sql_strings(TEXT_TIMESTAMP_FORMATS) + "]"
    return (
        f"coalesce(try_cast(trim({text}) as timestamptz), "
        f"timezone('UTC', try_strptime(trim({text}), {formats})))"
    )


def shopify_email_sql(email: str, customer_email: str) -> str:
    """The address of an order or checkout: its own `email` when well-formed, else its
    customer's (dbt's `shopify_email` macro picks the same one)."""
    return (
        f"case when regexp_full_match(trim({email}), '{EMAIL_PATTERN}') then {email} "
        f"else coalesce({customer_email}, {email}) end"
    )


def _email_rules(email: str, required: bool) -> list[RowRule]:
    missing = RowRule(
        "missing_email",
        f"nullif(trim({email}), '') is null",
        "no e-mail address: the row cannot be tied to a contact",
    )
    malformed = RowRule(
        "malformed_email",
        f"not regexp_full_match(trim({email}), '{EMAIL_PATTERN}')",
        "the e-mail address is malformed",
    )
    return [missing, malformed] if required else [malformed]


def _timestamp_rules(ts: str, t: QualityThresholds) -> list[RowRule]:
    """`ts` is a TIMESTAMPTZ expression; NULL when the landed text is not a timestamp."""
    skew = int(t.clock_skew_minutes)
    return [
        RowRule("invalid_timestamp", f"{ts} is null", "the timestamp is missing or unreadable"),
        RowRule(
            "future_timestamp",
            f"{ts} > current_timestamp + interval '{skew} minutes'",
            "the timestamp is in the future",
        ),
        RowRule(
            "implausibly_old_timestamp",
            f"{ts} < timestamptz '{t.earliest_date.isoformat()} 00:00:00+00'",
            f"the timestamp is before {t.earliest_date.isoformat()}",
        ),
    ]


def _money_rules(amounts: tuple[str, ...], t: QualityThresholds) -> list[RowRule]:
    # The suites' format: digits with an optional fraction (no exponent, no NaN, no spaces).
    unreadable = " or ".join(
        f"({a} is not null and (try_cast({a} as decimal(18, 2)) is null "
        f"or not regexp_full_match({a}, '-?[0-9]+([.][0-9]+)?')))"
        for a in amounts
    )
    negative = " or ".join(f"try_cast({a} as decimal(18, 2)) < 0" for a in amounts)
    currencies = _sql_strings(t.currencies)
    return [
        RowRule("missing_amount", f"{amounts[0]} is null", f"no {amounts[0]}"),
        RowRule("invalid_amount", unreadable, "an amount is not a decimal number"),
        RowRule("negative_amount", negative, "an amount is negative"),
        RowRule(
            "unknown_currency",
            f"upper(trim(currency)) not in ({currencies}) or currency is null",
            f"the currency is not one the shop uses ({', '.join(t.currencies)}); "
            "set LIFECYCLE_SHOP_CURRENCIES if it should be",
        ),
    ]


def row_rules(source: str, t: QualityThresholds) -> list[RowRule]:
    """The rules of one landing source, in the order they name a row."""
    if source == "orders":
        return [
            RowRule("missing_key", "id is null", "no order id"),
            *_email_rules(shopify_email_sql("email", "customer.email"), required=True),
            *_timestamp_rules(text_timestamp_sql("created_at"), t),
            *_money_rules(("total_price", "subtotal_price", "total_discounts"), t),
            RowRule(
                "unknown_financial_status",
                f"lower(trim(financial_status)) not in ({_sql_strings(FINANCIAL_STATUSES)})",
                "the financial status is not a Shopify order financial status "
                f"({', '.join(FINANCIAL_STATUSES)})",
            ),
        ]
    if source == "checkouts":
        return [
            RowRule("missing_key", "token is null", "no checkout token"),
            # A checkout without an address is normal (the buyer left before typing it).
            *_email_rules(
                f"nullif(trim({shopify_email_sql('email', 'customer.email')}), '')",
                required=False,
            ),
            *_timestamp_rules(text_timestamp_sql("created_at"), t),
            *_money_rules(("total_price", "subtotal_price", "total_discounts"), t),
        ]
    if source == "email_events":
        return [
            RowRule("missing_key", "sg_event_id is null", "no sg_event_id"),
            *_email_rules("email", required=True),
            RowRule(
                "unknown_event_type",
                f"lower(event) not in ({_sql_strings(SENDGRID_EVENTS)}) or event is null",
                "the event type is not a SendGrid Event Webhook type",
            ),
            *_timestamp_rules(epoch_timestamp_sql("timestamp"), t),
        ]
    if source == "contacts":
        return [
            *_email_rules("email", required=True),
            RowRule(
                "unknown_consent_state",
                "lower(trim(email_marketing_consent_state)) "
                f"not in ({_sql_strings(CONSENT_STATES)}) or email_marketing_consent_state is null",
                "the consent state is not a Shopify e-mail marketing consent state",
            ),
            *_timestamp_rules(text_timestamp_sql("updated_at"), t),
        ]
    raise KeyError(f"no row rules for source {source!r}")


def rule_case_sql(rules: list[RowRule]) -> str:
    """A CASE naming the first rule a row breaks, NULL for a good row."""
    whens = "\n".join(f"when coalesce({r.bad_when}, false) then '{r.name}'" for r in rules)
    return f"case\n{whens}\nend"


def reasons(source: str, t: QualityThresholds) -> dict[str, str]:
    named = {r.name: r.reason for r in row_rules(source, t)}
    named[CONFLICTING_DUPLICATE] = (
        "two copies of one key with the same version differ: fix the export, then re-land the day"
    )
    return named
