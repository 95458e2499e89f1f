"""Realtime: the websocket endpoint, topic authorization and the fan-out hub."""
