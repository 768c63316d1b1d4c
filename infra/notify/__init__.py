"""Alert delivery: signed webhooks and e-mail for breaches, with a durable retry queue.

``ssrf`` guards where webhooks may go, ``signing`` signs them (Standard Webhooks),
``http`` and ``smtp`` send, ``repository`` keeps endpoints and the delivery queue in
PostgreSQL, and ``worker`` ties them to the breach topic (docs/alerts.md).
"""
