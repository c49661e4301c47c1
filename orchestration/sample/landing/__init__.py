"""Writes the sample shop as daily landing files in the real export formats, with DuckDB.

The arrays from the generators are registered as DuckDB tables and shaped into Shopify
`Order` and abandoned `Checkout` JSON lines, SendGrid Event Webhook JSON lines and a contact
CSV export, one folder per source and day (`<source>/day=YYYY-MM-DD/`).
"""
