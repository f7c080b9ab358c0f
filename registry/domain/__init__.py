"""Pure business rules: no Flask, no database, no clock (time is a parameter)."""
