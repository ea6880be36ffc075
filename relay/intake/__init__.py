"""Intake: the ASGI side. The hook endpoint, the request guard, the uvicorn server, the
preview route, the OpenAPI document, and the one table of answers (``answers``). Knows nothing
of delivery (it sees the worker through ``runtime.DeliveryWorker``).
"""
