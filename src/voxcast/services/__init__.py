"""Use cases, one module per feature: validated input in, storage touched, domain results out."""
