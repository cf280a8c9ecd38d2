"""The AI voice robot: understanding what a callee says (intent rules, an optional LLM) and the
dialogue engine that walks a script for one call. Audio, VAD and ASR live elsewhere."""
