"""One router per API family; each route is thin: parse, call a service, wrap in the envelope."""
