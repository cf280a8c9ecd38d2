"""Webhook pushes: the durable outbox, the sender with retries, and push signatures."""
