"""The customer chat: a ChatKit server, its user-scoped store, attachments and visitor identity."""
