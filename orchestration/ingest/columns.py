"""What each raw column holds, for the catalog: the Dagster UI shows it on every raw asset.

Raw tables keep the exports' own names and text (amounts and times as the export wrote
them; staging casts them), plus four columns every load adds. A name shared by several
tables means the same thing in each unless a table overrides it.
"""

LOAD_COLUMNS = {
    "_source_file": "The landing file the row came from, relative to the landing folder.",
    "_partition_date": "The landing day (the day=YYYY-MM-DD folder): the Dagster partition.",
    "_batch_id": "The Dagster run that loaded the row.",
    "_loaded_at": "When the row was loaded (UTC).",
}

SHARED = {
    "email": "The contact's e-mail address as exported (staging normalises it).",
    "created_at": "When the record was created, ISO 8601 text as exported.",
    "updated_at": "When the record last changed, ISO 8601 text: the newest version wins.",
    "currency": "ISO 4217 shop currency of the amounts, upper-cased.",
    "presentment_currency": "The currency the customer saw.",
    "subtotal_price": "Line totals after discounts, before tax (text, shop currency).",
    "total_discounts": "Discounts applied (text, shop currency).",
    "total_price": "The amount charged (text, shop currency).",
    "customer_id": "Shopify customer id.",
    "customer_email": "The customer record's address (when the order's own is empty).",
    "customer_first_name": "The customer's first name.",
    "customer_last_name": "The customer's last name.",
    "line_item_count": "How many line items the record has (unnested to *_line_items).",
    "position": "The line's position within its order or checkout (from 1).",
    "product_id": "Shopify product id.",
    "variant_id": "Shopify product variant id.",
    "sku": "Stock keeping unit.",
    "title": "Product title.",
    "vendor": "The product's brand.",
    "product_type": "The product's category.",
    "quantity": "Units on the line.",
    "price": "Unit price (text, shop currency).",
    "first_name": "First name.",
    "last_name": "Last name.",
}

BY_TABLE = {
    "orders": {
        "id": "Shopify order id: one order, many versions (updated_at).",
        "name": "The order's display name, e.g. #1001.",
        "order_number": "The shop's order number.",
        "processed_at": "When the payment was processed (ISO 8601 text).",
        "cancelled_at": "When the order was cancelled; empty if it was not.",
        "cancel_reason": "Why it was cancelled (customer, fraud, inventory, declined, other).",
        "financial_status": "Payment status, lower-cased: paid, refunded, voided, ...",
        "fulfillment_status": "Shipping status: fulfilled, partial or empty.",
        "total_line_items_price": "Line totals before discounts (text).",
        "total_tax": "Tax charged (text).",
        "current_total_price": "The total after refunds and edits (text).",
        "test": "A test order (excluded from every mart).",
        "source_name": "The sales channel (web, pos, ...).",
        "customer_created_at": "When the customer record was created.",
        "customer_consent_state": "The customer's e-mail marketing consent at order time.",
        "customer_consent_opt_in_level": "single_opt_in, confirmed_opt_in or unknown.",
        "customer_consent_updated_at": "When that consent last changed.",
        "discount_codes": "Discount codes used, as JSON text.",
    },
    "order_line_items": {
        "order_id": "The order (orders.id).",
        "order_updated_at": "The order version the line belongs to (orders.updated_at).",
        "line_item_id": "Shopify line item id.",
        "total_discount": "Discount on the line (text).",
    },
    "checkouts": {
        "id": "Shopify checkout id.",
        "token": "The checkout's token: its key.",
        "cart_token": "The cart the checkout came from.",
        "completed_at": "When the checkout became an order; empty while abandoned.",
        "abandoned_checkout_url": "The link that restores the cart (for cart e-mails).",
    },
    "checkout_line_items": {
        "checkout_token": "The checkout (checkouts.token).",
        "checkout_updated_at": "The checkout version the line belongs to.",
    },
    "email_events": {
        "sg_event_id": "SendGrid's event id: the key (a re-delivered event is dropped).",
        "sg_message_id": "The message the event is about.",
        "event": "processed, delivered, open, click, bounce, dropped, deferred, unsubscribe, "
        "group_unsubscribe, group_resubscribe or spamreport (lower-cased).",
        "timestamp": "When it happened, in epoch seconds (milliseconds are divided by 1000).",
        "category": "The send's categories (the campaign or flow).",
        "campaign_id": "The campaign or flow message that sent it.",
        "asm_group_id": "The unsubscribe group of the send or of a group (un)subscribe.",
        "url": "The link clicked (click events).",
        "reason": "Why a bounce or drop happened.",
        "status": "The SMTP status code of a bounce.",
        "type": "bounce (hard) or blocked (soft) for bounce events.",
        "bounce_classification": "SendGrid's bounce classification.",
        "sg_machine_open": "An open by a mail client's privacy proxy, not a person.",
        "response": "The receiving server's answer (delivered and deferred events).",
        "useragent": "The user agent of an open or click.",
    },
    "contacts": {
        "customer_id": "Shopify customer id (text as exported; empty for a prospect).",
        "email_marketing_consent_state": "subscribed, not_subscribed, unsubscribed, pending, "
        "redacted or invalid (lower-cased).",
        "email_marketing_opt_in_level": "single_opt_in, confirmed_opt_in or unknown.",
        "email_marketing_consent_updated_at": "When the consent last changed.",
        "source": "Where the contact signed up.",
        "birthday": "The contact's birthday, if given.",
    },
}


def column_description(table: str, column: str) -> str | None:
    """What `column` of raw.`table` holds, or None if it is not documented."""
    return BY_TABLE.get(table, {}).get(column) or SHARED.get(column) or LOAD_COLUMNS.get(column)
