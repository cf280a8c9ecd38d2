"""The call-center room of telephony: the agents' registrar (`agent_registrar`), the search for
an agent to hand a callee to (`transfer`) and inbound calls to agent groups (`callin`)."""
