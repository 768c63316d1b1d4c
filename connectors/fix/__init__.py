"""FIX 4.4 drop-copy: ExecutionReports from a broker's drop-copy session → trade events.

``wire.py`` holds the tags and the report's fields, ``parse.py`` reads a message's
fields (pure), ``book.py`` turns fills into positions, trades and balance (pure), and
``connector.py`` runs the QuickFIX initiator session around them.
"""
