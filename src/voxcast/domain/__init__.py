"""Pure domain logic: enums, rules and value objects with no I/O and no framework imports."""
