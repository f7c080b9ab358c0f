"""The lower floor of the services: building blocks that work inside a transaction someone else
opened. Each takes a :class:`~registry.services.core.tx.Tx` first, never commits, and never checks
permissions (the use case that opened the transaction has done that). Nothing here imports a use
case module (``registry.services.<name>`` outside ``core``)."""
