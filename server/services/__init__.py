"""Use-cases: the one place where domain rules meet the database."""
