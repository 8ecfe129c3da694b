"""Pure rules: no Flask, no SQL. Every function here is testable in microseconds."""
